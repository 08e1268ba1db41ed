/** Drift of a day's values from a model's training values: PSI and two-sample KS. */
export { binShares, driftFrom, isConstant, kolmogorovSmirnov, populationStabilityIndex, PSI_EMPTY_BIN_SHARE, referenceDistribution } from './drift.js';
export type { DriftMeasure, ReferenceDistribution } from './drift.js';
