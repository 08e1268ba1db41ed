/**
 * How far a day's values have moved from a model's training values: the population stability
 * index over the reference's decile bins and the two-sample Kolmogorov–Smirnov statistic. Pure
 * arithmetic on typed arrays; the reference is small enough to store with a model version.
 */

/** A feature's (or the score's) training distribution, as stored with the model version. */
export interface ReferenceDistribution {
  /** Training rows it summarises (non-finite values left out). */
  rows: number;
  /**
   * Inner bin edges, ascending and distinct (deciles of the training values): bin k holds values
   * in (edges[k-1], edges[k]], the first everything up to edges[0], the last everything above.
   */
  edges: number[];
  /** Share of the training rows in each bin (edges.length + 1 of them, summing to 1). */
  proportions: number[];
  /** Evenly spaced order statistics of the training values (at most `sampleSize`), ascending: what KS compares with. */
  sample: number[];
}

/** A day's distance from the reference, or why there is none. */
export type DriftMeasure = { psi: number; ks: number; rows: number } | { constant: true; rows: number } | { empty: true };

/** Share given to a bin no value fell in, so that PSI stays finite (the usual 0.0001). */
export const PSI_EMPTY_BIN_SHARE = 1e-4;

function finiteSorted(values: Float64Array): Float64Array {
  return values.filter(Number.isFinite).sort();
}

/** Value at quantile q of sorted values, NumPy's method `lower`: always a value of the data, so that no bin between two edges is empty. */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))];
}

/** Number of sorted values <= x (the right insertion point). */
function countAtMost(sorted: ArrayLike<number>, x: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= x) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Share of values in each bin the inner `edges` make (see ReferenceDistribution). */
export function binShares(sorted: Float64Array, edges: readonly number[]): number[] {
  const shares: number[] = [];
  let before = 0;
  for (const edge of edges) {
    const upTo = countAtMost(sorted, edge);
    shares.push((upTo - before) / sorted.length);
    before = upTo;
  }
  shares.push((sorted.length - before) / sorted.length);
  return shares;
}

/**
 * Summarises training values for later drift checks: decile edges (ties merged, so a feature
 * with few distinct values has fewer bins) with each bin's share, and up to `sampleSize` evenly
 * spaced order statistics. Non-finite values are left out.
 */
export function referenceDistribution(values: Float64Array, options: { bins?: number; sampleSize?: number } = {}): ReferenceDistribution {
  const bins = options.bins ?? 10;
  const sampleSize = options.sampleSize ?? 1000;
  const sorted = finiteSorted(values);
  if (sorted.length === 0) return { rows: 0, edges: [], proportions: [], sample: [] };
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const edge = quantile(sorted, k / bins);
    // The largest value is no edge: nothing of the reference lies above it.
    if (edge < sorted[sorted.length - 1] && (edges.length === 0 || edge > edges[edges.length - 1])) edges.push(edge);
  }
  const take = Math.min(sampleSize, sorted.length);
  const sample = Array.from({ length: take }, (_, k) => sorted[take === 1 ? 0 : Math.round((k * (sorted.length - 1)) / (take - 1))]);
  return { rows: sorted.length, edges, proportions: binShares(sorted, edges), sample };
}

/** Whether the reference values were all the same: no bins to compare shares in. */
export function isConstant(reference: ReferenceDistribution): boolean {
  return reference.rows > 0 && reference.sample[0] === reference.sample[reference.sample.length - 1];
}

/**
 * Population stability index of shares `actual` against `expected` (same bins):
 * Σ (actual − expected) · ln(actual / expected), an empty bin counting as {@link PSI_EMPTY_BIN_SHARE}.
 * Below 0.1 is usually read as stable, above 0.2 as shifted.
 */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[]): number {
  let psi = 0;
  for (let bin = 0; bin < expected.length; bin++) {
    const e = Math.max(expected[bin], PSI_EMPTY_BIN_SHARE);
    const a = Math.max(actual[bin], PSI_EMPTY_BIN_SHARE);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/**
 * The two-sample Kolmogorov–Smirnov statistic of two ascending samples: the largest distance
 * between their empirical distribution functions, taken at every value of either (SciPy's
 * `ks_2samp(...).statistic`).
 */
export function kolmogorovSmirnov(sortedA: ArrayLike<number>, sortedB: ArrayLike<number>): number {
  let a = 0;
  let b = 0;
  let distance = 0;
  while (a < sortedA.length && b < sortedB.length) {
    const x = Math.min(sortedA[a], sortedB[b]);
    while (a < sortedA.length && sortedA[a] <= x) a++;
    while (b < sortedB.length && sortedB[b] <= x) b++;
    distance = Math.max(distance, Math.abs(a / sortedA.length - b / sortedB.length));
  }
  return distance;
}

/**
 * How far `values` (a day's, or a window's) lie from `reference`: PSI over the reference's bins
 * and KS against its sample. A constant reference has no spread to compare with and is reported
 * as such; no finite value at all is reported as empty.
 */
export function driftFrom(reference: ReferenceDistribution, values: Float64Array): DriftMeasure {
  const sorted = finiteSorted(values);
  if (sorted.length === 0 || reference.rows === 0) return { empty: true };
  if (isConstant(reference)) return { constant: true, rows: sorted.length };
  return { psi: populationStabilityIndex(reference.proportions, binShares(sorted, reference.edges)), ks: kolmogorovSmirnov(reference.sample, sorted), rows: sorted.length };
}
