/** Per-vehicle patterns across a day of trips: near-identical values repeated, back-to-back and overlapping trips. */
export { detectVehiclePatterns } from './detect.js';
export type { PatternKind, PatternOptions, PatternResult, VehiclePattern, VehicleTrips } from './detect.js';
export { logBinomialTail, logPoissonTail } from './tails.js';
