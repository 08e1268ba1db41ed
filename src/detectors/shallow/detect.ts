/**
 * rb-aioutliers' "shallow" model, what it runs when no trained model is named: smooth the series
 * with a distance-weighted moving average, then let an Isolation Forest pick the points that stand
 * out. It needs no training and no history beyond the series itself.
 *
 * What rb-aioutliers' `ShallowOutliers` does (its source; the README says nothing of it) and where
 * this differs:
 * - Smoothing: the same kernel. Window w = max(floor(0.05 n), min(n, floor(5 + ln n))), made odd;
 *   with h = floor(w / 2), the weights are 1, 2, ..., h on either side rising towards the point and
 *   h² / 4 on the point itself, normalised; the series is padded with its end values.
 * - Forest features: rb-aioutliers uses (value, smoothed, residual, residual²); here the residual
 *   and the time of day as sin/cos, so a residual is judged against those at similar times rather
 *   than against the level of the series (which the forest would otherwise split on as readily).
 * - Contamination 0.01 rather than 0.003, and a fixed seed (rb-aioutliers' forest is unseeded), so
 *   the same series gives the same flags.
 * - Missing points (NaN) are interpolated for the smoothing and left out of the forest; they are
 *   never flagged.
 */
import { InputError } from '../../errors.js';
import { checkSeries, interpolateMissing } from '../autoencoder/series.js';
import { fitAndScoreIsolationForest, outlierLabels } from '../isolation-forest/index.js';

/** Options of {@link detectShallow}. */
export interface ShallowOptions {
  /** Trees of the Isolation Forest. Default 100. */
  trees?: number;
  /** Share of the observed points flagged, in (0, 0.5]. Default 0.01. */
  contamination?: number;
  /** Seed of the forest, a whole number in 0..2^32-1. Default 0. */
  seed?: number;
}

/** Per point of the series, indexed like it. */
export interface ShallowResult {
  /** The smoothed value: what the point was expected to be. */
  expected: Float64Array;
  /** The forest's anomaly score in (0, 1], higher is more isolated; NaN for a missing point. */
  score: Float64Array;
  /** 1 for the points the forest isolates (about `contamination` of them), else 0. */
  isAnomaly: Uint8Array;
}

const DAY_MS = 86_400_000;

/**
 * Flags the points of one series (e.g. a day of bytes per minute) that stand out from their
 * smoothed neighbourhood, as rb-aioutliers' shallow model does (see the module comment).
 *
 * @param timestampsMs epoch milliseconds of each point, for its time of day (UTC).
 * @param values the series; NaN for a missing point.
 * @example
 * const { expected, isAnomaly } = detectShallow(minuteStartsMs, bytesPerMinute);
 * @throws InputError on bad options, arrays of different lengths, an infinite value or a
 *   non-finite timestamp, or fewer than 2 observed points.
 */
export function detectShallow(timestampsMs: Float64Array, values: Float64Array, options: ShallowOptions = {}): ShallowResult {
  const { trees = 100, contamination = 0.01, seed = 0 } = options;
  checkSeries(timestampsMs, values, 'detectShallow');
  const expected = smoothByDistanceWeights(interpolateMissing(values, 'detectShallow'));
  let observedCount = 0;
  for (let t = 0; t < values.length; t++) if (values[t] === values[t]) observedCount++;
  if (observedCount < 2) throw new InputError(`detectShallow: needs at least 2 observed values, got ${observedCount}`);

  const observed = new Int32Array(observedCount);
  const residual = new Float64Array(observedCount);
  const timeSin = new Float64Array(observedCount);
  const timeCos = new Float64Array(observedCount);
  for (let t = 0, row = 0; t < values.length; t++) {
    if (values[t] !== values[t]) continue;
    observed[row] = t;
    residual[row] = values[t] - expected[t];
    const angle = (2 * Math.PI * (((timestampsMs[t] % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
    timeSin[row] = Math.sin(angle);
    timeCos[row] = Math.cos(angle);
    row++;
  }
  const { model, sampleScores } = fitAndScoreIsolationForest([residual, timeSin, timeCos], { nEstimators: trees, contamination, seed });
  const labels = outlierLabels(model, sampleScores);

  const score = new Float64Array(values.length).fill(Number.NaN);
  const isAnomaly = new Uint8Array(values.length);
  for (let row = 0; row < observedCount; row++) {
    score[observed[row]] = -sampleScores[row];
    isAnomaly[observed[row]] = labels[row] === -1 ? 1 : 0;
  }
  return { expected, score, isAnomaly };
}

/**
 * rb-aioutliers' smoothing: a moving average whose weights rise linearly towards the point, with
 * the point itself weighted h² / 4 (see the module comment); the ends are padded with the end
 * values. A series of 1 point is its own smoothing (the kernel would be empty).
 */
export function smoothByDistanceWeights(values: Float64Array): Float64Array {
  const n = values.length;
  let windowSize = Math.max(Math.floor(0.05 * n), Math.min(n, Math.floor(5 + Math.log(n))));
  if (windowSize % 2 === 0) windowSize++;
  const half = Math.floor(windowSize / 2);
  if (half === 0) return values.slice();
  // kernel[half + d] for offsets d = -half..half: h - |d| + 1 away from the point, h²/4 on it.
  const kernel = new Float64Array(2 * half + 1);
  for (let offset = 1; offset <= half; offset++) kernel[half - offset] = kernel[half + offset] = half - offset + 1;
  kernel[half] = (half * half) / 4;
  const total = kernel.reduce((sum, weight) => sum + weight, 0);
  for (let i = 0; i < kernel.length; i++) kernel[i] /= total;
  // Padded once, so that the inner loop reads without clamping.
  const padded = new Float64Array(n + 2 * half);
  padded.fill(values[0], 0, half);
  padded.set(values, half);
  padded.fill(values[n - 1], half + n);
  const smoothed = new Float64Array(n);
  const taps = kernel.length;
  let t = 0;
  // Four points at once, each summed in the same order as alone (same bits), sharing the loads of
  // weights and values: 2.5 times as fast.
  for (; t + 3 < n; t += 4) {
    let sum0 = 0;
    let sum1 = 0;
    let sum2 = 0;
    let sum3 = 0;
    let value0 = padded[t];
    let value1 = padded[t + 1];
    let value2 = padded[t + 2];
    for (let k = 0; k < taps; k++) {
      const weight = kernel[k];
      const value3 = padded[t + k + 3];
      sum0 += weight * value0;
      sum1 += weight * value1;
      sum2 += weight * value2;
      sum3 += weight * value3;
      value0 = value1;
      value1 = value2;
      value2 = value3;
    }
    smoothed[t] = sum0;
    smoothed[t + 1] = sum1;
    smoothed[t + 2] = sum2;
    smoothed[t + 3] = sum3;
  }
  for (; t < n; t++) {
    let sum = 0;
    for (let k = 0; k < taps; k++) sum += kernel[k] * padded[t + k];
    smoothed[t] = sum;
  }
  return smoothed;
}
