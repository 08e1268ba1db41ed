/**
 * DBSCAN on generated ride features, as the rides pipeline runs it: standard-scale, then cluster.
 * The last case runs all three ride detectors of the built-in rides pipeline on one day (DBSCAN,
 * conditional ride times, vehicle patterns), kernels only, and reports each one's seconds.
 */
import { dbscan, detectVehiclePatterns, fitRideTimeModel, scoreRideTimes, standardScale } from '../src/detectors/index.js';
import { generateRideFeatures } from '../src/sample/index.js';
import type { BenchCase } from './main.js';

const SEED = 20240101;
const OPTIONS = { eps: 0.3, minSamples: 10 };
const TAXIS = 3000;

function prepare(rows: number) {
  const { rideDistKm, rideTimeMin } = generateRideFeatures(rows, SEED);
  return () => dbscan(standardScale([rideDistKm, rideTimeMin]).scaled, OPTIONS);
}

/** Seconds of `work`, added to `seconds` under `name`. */
function timed(seconds: Record<string, number>, name: string, work: () => unknown): void {
  const started = performance.now();
  work();
  seconds[name] = Number(((performance.now() - started) / 1000).toFixed(3));
}

function prepareRideDetectors(rows: number) {
  const { rideDistKm, rideTimeMin, pickupMinuteOfDay, taxiIndex } = generateRideFeatures(rows, SEED, TAXIS);
  const rides = { distance: rideDistKm, durationMin: rideTimeMin, hourOfDay: Float64Array.from(pickupMinuteOfDay, (minute) => minute / 60), vehicle: taxiIndex, vehicleCount: TAXIS };
  const trips = { vehicle: taxiIndex, vehicleCount: TAXIS, values: [rideDistKm, rideTimeMin], startMin: pickupMinuteOfDay, endMin: Float64Array.from(pickupMinuteOfDay, (minute, ride) => minute + rideTimeMin[ride]) };
  return () => {
    const seconds: Record<string, number> = {};
    timed(seconds, 'dbscan', () => dbscan(standardScale([rideDistKm, rideTimeMin]).scaled, OPTIONS));
    timed(seconds, 'conditional', () => scoreRideTimes(fitRideTimeModel(rides, { minSupport: 50, byDayOfWeek: false }), rides, { sigmas: 5, distanceSigmas: 4, maxSpeed: 150 }));
    timed(seconds, 'pattern', () =>
      detectVehiclePatterns(trips, { relativeTolerance: 0.01, absoluteTolerances: [0.01, 0.1], falseAlarms: 0.01, minRepeats: 5, backToBackMinutes: 1, maxFleetOverlapShare: 0.05 }),
    );
    return seconds;
  };
}

export const cases: readonly BenchCase[] = [
  ...[100_000, 1_000_000, 10_000_000].map((rows) => ({ rows, prepare: () => prepare(rows) })),
  { rows: 1_000_000, label: 'dbscan+conditional+pattern', prepare: () => prepareRideDetectors(1_000_000), report: (seconds) => ({ detector_seconds: seconds }) },
];
