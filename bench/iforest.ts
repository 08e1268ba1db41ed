/** Isolation Forest on generated ride features, as sklearn's `IsolationForest().fit(X).score_samples(X)`: fit, then score every row. */
import { fitIsolationForest, scoreSamples } from '../src/detectors/index.js';
import { generateRideFeatures } from '../src/sample/index.js';
import type { BenchCase } from './main.js';

const SEED = 20240101;
const OPTIONS = { nEstimators: 100, maxSamples: 256, seed: 0 };

function prepare(rows: number) {
  const { rideDistKm, rideTimeMin } = generateRideFeatures(rows, SEED);
  const features = [rideDistKm, rideTimeMin];
  return () => scoreSamples(fitIsolationForest(features, OPTIONS), features);
}

export const cases: readonly BenchCase[] = [100_000, 1_000_000].map((rows) => ({
  rows,
  prepare: () => prepare(rows),
}));
