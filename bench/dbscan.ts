/** DBSCAN on generated ride features, as the rides pipeline runs it: standard-scale, then cluster. */
import { dbscan, standardScale } from '../src/detectors/index.js';
import { generateRideFeatures } from '../src/sample/index.js';
import type { BenchCase } from './main.js';

const SEED = 20240101;
const OPTIONS = { eps: 0.3, minSamples: 10 };

function prepare(rows: number) {
  const { rideDistKm, rideTimeMin } = generateRideFeatures(rows, SEED);
  return () => dbscan(standardScale([rideDistKm, rideTimeMin]).scaled, OPTIONS);
}

export const cases: readonly BenchCase[] = [100_000, 1_000_000, 10_000_000].map((rows) => ({
  rows,
  prepare: () => prepare(rows),
}));
