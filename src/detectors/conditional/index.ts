/** Ride time given distance and hour of day: a robust model fitted per day or window, and the rides it finds unusual. */
export { fitRideTimeModel, distanceBin, distanceBinCentre, hourCell } from './model.js';
export type { CellBand, RideColumns, RideTimeModel, RideTimeModelOptions } from './model.js';
export { RIDE_VERDICT, scoreRideTimes } from './score.js';
export type { RideTimeScoreOptions, RideTimeScores } from './score.js';
