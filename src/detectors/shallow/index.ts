/** rb-aioutliers' shallow model: distance-weighted smoothing and an Isolation Forest on the residuals. */
export { detectShallow, smoothByDistanceWeights } from './detect.js';
export type { ShallowOptions, ShallowResult } from './detect.js';
