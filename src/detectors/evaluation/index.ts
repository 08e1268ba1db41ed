/** How detections compare with labelled anomaly windows: the Numenta Anomaly Benchmark's scoring. */
export { NAB_PROFILES, nabFileScore, nabTotal, probationaryLength, scaledSigmoid } from './nab.js';
export type { NabFileScore, NabProfile, NabTotal, NabWeights, RowWindow } from './nab.js';
