/**
 * Explanations for outliers of a clustering: which feature is most surprising given the others,
 * as an expected value and a band learnt from the inliers. Pure: typed arrays in, plain objects out.
 */

export interface ConditionalBand {
  /** Index of the surprising feature. */
  feature: number;
  /** Index of the feature it was conditioned on (same as `feature` when there is only one). */
  givenFeature: number;
  value: number;
  /** Mean of the feature among inliers with a similar `givenFeature` value. */
  expected: number;
  /** expected ± bandSigmas standard deviations. */
  low: number;
  high: number;
  /** Signed distance from `expected` in standard deviations. */
  sigmas: number;
}

export interface ExplainOptions {
  /** Equal-count bins over the conditioning feature (fewer when inliers are few). */
  bins?: number;
  /** Width of the reported band in standard deviations. */
  bandSigmas?: number;
}

interface BinnedStats {
  /** Upper edge (inclusive) of each bin of the conditioning feature. */
  upperEdges: Float64Array;
  means: Float64Array;
  stds: Float64Array;
}

const MIN_ROWS_PER_BIN = 20;

/**
 * Per equal-count bin of the inliers ranked by `given` (ties ranked in row order, as a stable sort
 * ranks them), the mean and spread of `target` and the bin's largest `given`. No row order is
 * built: the inliers' `given` values are sorted as numbers (natively), which fixes every bin's
 * range of ranks and values; then each inlier is counted in its bin in one pass, by its value
 * among the bins' last values and, for a value that several bins share, by its rank among its
 * ties. Values must not be NaN.
 */
function binnedStats(target: Float64Array, given: Float64Array, inliers: Int32Array, binCount: number): BinnedStats {
  const count = inliers.length;
  const bins = Math.max(1, Math.min(binCount, Math.floor(count / MIN_ROWS_PER_BIN)));
  const sorted = new Float64Array(count);
  // + 0 turns -0 into 0, which it ties with.
  for (let k = 0; k < count; k++) sorted[k] = given[inliers[k]] + 0;
  sorted.sort();
  // Bin b holds ranks starts[b] .. starts[b + 1] - 1; lasts[b] is its largest value.
  const starts = new Int32Array(bins + 1);
  const lasts = new Float64Array(bins);
  for (let bin = 0; bin <= bins; bin++) starts[bin] = Math.floor((bin * count) / bins);
  for (let bin = 0; bin < bins; bin++) lasts[bin] = sorted[starts[bin + 1] - 1];
  // For a value some bin ends on and the next one holds too: its first rank, and its ties seen so far.
  const shared = new Map<number, { firstRank: number; seen: number }>();
  for (let bin = 0; bin + 1 < bins; bin++) {
    const value = lasts[bin];
    if (sorted[starts[bin + 1]] !== value || shared.has(value)) continue;
    let low = 0;
    let high = starts[bin + 1];
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (sorted[middle] < value) low = middle + 1;
      else high = middle;
    }
    shared.set(value, { firstRank: low, seen: 0 });
  }
  const sums = new Float64Array(bins);
  const sumSquares = new Float64Array(bins);
  for (let k = 0; k < count; k++) {
    const row = inliers[k];
    const value = given[row] + 0;
    // The first bin whose last value is at least this one.
    let bin = binOf(lasts, value);
    const ties = value === lasts[bin] ? shared.get(value) : undefined;
    if (ties !== undefined) {
      const rank = ties.firstRank + ties.seen++;
      while (rank >= starts[bin + 1]) bin++;
    }
    const y = target[row];
    sums[bin] += y;
    sumSquares[bin] += y * y;
  }
  const upperEdges = Float64Array.from(lasts);
  const means = new Float64Array(bins);
  const stds = new Float64Array(bins);
  for (let bin = 0; bin < bins; bin++) {
    const size = Math.max(1, starts[bin + 1] - starts[bin]);
    const mean = sums[bin] / size;
    means[bin] = mean;
    stds[bin] = Math.sqrt(Math.max(0, sumSquares[bin] / size - mean * mean));
  }
  upperEdges[bins - 1] = Infinity;
  return { upperEdges, means, stds };
}

/** The first bin whose upper edge is at least `value` (the last bin when none is). */
function binOf(upperEdges: Float64Array, value: number): number {
  let low = 0;
  let high = upperEdges.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (value <= upperEdges[middle]) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * For each query row, the feature that lies the most standard deviations away from what inliers
 * with a similar value of the next feature show (feature j is conditioned on feature j+1, cyclically;
 * with two features, each on the other). With one feature the band is unconditional.
 *
 * @example
 * // ride time 94 min given distance 5 km, where similar rides take 18 ± 4 min:
 * explainByConditionalBands([rideDistKm, rideTimeMin], labels, outlierIndices)
 * // → [{ feature: 1, givenFeature: 0, value: 94, expected: 18, low: 10, high: 26, sigmas: 19 }, ...]
 */
export function explainByConditionalBands(
  columns: readonly Float64Array[],
  labels: Int32Array,
  queryIndices: ArrayLike<number>,
  options: ExplainOptions = {},
): ConditionalBand[] {
  const bandSigmas = options.bandSigmas ?? 2;
  let inlierCount = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0) inlierCount++;
  const inliers = new Int32Array(inlierCount);
  for (let i = 0, k = 0; i < labels.length; i++) if (labels[i] >= 0) inliers[k++] = i;
  const featureCount = columns.length;
  // One feature has nothing to condition on: a single bin gives the unconditional band.
  const binCount = featureCount === 1 ? 1 : (options.bins ?? 50);
  const stats = columns.map((target, feature) =>
    inlierCount === 0 ? undefined : binnedStats(target, columns[(feature + 1) % featureCount], inliers, binCount),
  );
  const explanations: ConditionalBand[] = [];
  for (let q = 0; q < queryIndices.length; q++) {
    const row = queryIndices[q];
    let best: ConditionalBand | undefined;
    for (let feature = 0; feature < featureCount; feature++) {
      const featureStats = stats[feature];
      const givenFeature = (feature + 1) % featureCount;
      const value = columns[feature][row];
      const bin = featureStats ? binOf(featureStats.upperEdges, columns[givenFeature][row]) : 0;
      const expected = featureStats ? featureStats.means[bin] : Number.NaN;
      const std = featureStats ? featureStats.stds[bin] : Number.NaN;
      // A zero spread (identical inliers) still ranks any difference as extreme, not as NaN.
      const sigmas = (value - expected) / Math.max(std, 1e-12 * Math.max(1, Math.abs(expected)));
      const band = { feature, givenFeature, value, expected, low: expected - bandSigmas * std, high: expected + bandSigmas * std, sigmas };
      if (!best || Math.abs(sigmas) > Math.abs(best.sigmas) || Number.isNaN(best.sigmas)) best = band;
    }
    explanations.push(best as ConditionalBand);
  }
  return explanations;
}
