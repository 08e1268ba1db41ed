/** Isolation Forest: fitting, scoring and the fitted model as JSON. */
export { fitAndScoreIsolationForest, fitIsolationForest } from './fit.js';
export type { FittedIsolationForest, IsolationForestOptions } from './fit.js';
export type { IsolationForestModel } from './model.js';
export { isolationForestFromJSON, isolationForestToJSON } from './model-json.js';
export type { IsolationForestJson } from './model-json.js';
export { anomalyScores, averagePathLength, outlierLabels, scoreSamples } from './score.js';
