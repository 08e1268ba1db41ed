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

/** Bits of an LSD radix digit of {@link orderByValue}: four passes over a million keys beat six narrower ones. */
const DIGIT_BITS = 16;

/**
 * `rows` ordered by `values[row]` ascending, ties in the order of `rows` (a stable sort by value, as
 * a comparator sort of the rows gives; -0 ties with 0). An LSD radix sort of the doubles' bits made
 * order-preserving as unsigned integers, keys moved along with their rows so that every pass reads
 * sequentially: linear in the rows, where a comparator sort of a million rows takes half a second.
 * Values must not be NaN.
 */
function orderByValue(values: Float64Array, rows: Int32Array): Int32Array {
  const count = rows.length;
  const keys = new Float64Array(count);
  // + 0 turns -0 into 0.
  for (let k = 0; k < count; k++) keys[k] = values[rows[k]] + 0;
  const halves = new Uint32Array(keys.buffer);
  // Little-endian: the low half of key k is halves[2k], the high half (sign, exponent) halves[2k + 1].
  let low = new Uint32Array(count);
  let high = new Uint32Array(count);
  for (let k = 0; k < count; k++) {
    const top = halves[2 * k + 1];
    const negative = top >>> 31 === 1;
    low[k] = negative ? ~halves[2 * k] >>> 0 : halves[2 * k];
    high[k] = negative ? ~top >>> 0 : (top | 0x80000000) >>> 0;
  }
  let order = Int32Array.from(rows);
  let spareOrder = new Int32Array(count);
  let spareLow = new Uint32Array(count);
  let spareHigh = new Uint32Array(count);
  const starts = new Int32Array(1 << DIGIT_BITS);
  for (const half of ['low', 'high'] as const) {
    for (let shift = 0; shift < 32; shift += DIGIT_BITS) {
      const digits = half === 'low' ? low : high;
      const mask = 2 ** Math.min(DIGIT_BITS, 32 - shift) - 1;
      starts.fill(0);
      for (let k = 0; k < count; k++) starts[(digits[k] >>> shift) & mask]++;
      // A digit all keys share (high exponent bits, zero low bits of round values) leaves the order as it is.
      if (count === 0 || starts[(digits[0] >>> shift) & mask] === count) continue;
      for (let digit = 0, start = 0; digit <= mask; digit++) {
        const size = starts[digit];
        starts[digit] = start;
        start += size;
      }
      for (let k = 0; k < count; k++) {
        const target = starts[(digits[k] >>> shift) & mask]++;
        spareOrder[target] = order[k];
        spareLow[target] = low[k];
        spareHigh[target] = high[k];
      }
      [order, spareOrder] = [spareOrder, order];
      [low, spareLow] = [spareLow, low];
      [high, spareHigh] = [spareHigh, high];
    }
  }
  return order;
}

function binnedStats(target: Float64Array, given: Float64Array, inliers: Int32Array, binCount: number): BinnedStats {
  const order = orderByValue(given, inliers);
  const bins = Math.max(1, Math.min(binCount, Math.floor(order.length / MIN_ROWS_PER_BIN)));
  const upperEdges = new Float64Array(bins);
  const means = new Float64Array(bins);
  const stds = new Float64Array(bins);
  for (let bin = 0; bin < bins; bin++) {
    const start = Math.floor((bin * order.length) / bins);
    const end = Math.floor(((bin + 1) * order.length) / bins);
    let sum = 0;
    let sumSquares = 0;
    for (let k = start; k < end; k++) {
      const value = target[order[k]];
      sum += value;
      sumSquares += value * value;
    }
    const count = Math.max(1, end - start);
    const mean = sum / count;
    means[bin] = mean;
    stds[bin] = Math.sqrt(Math.max(0, sumSquares / count - mean * mean));
    upperEdges[bin] = end > start ? given[order[end - 1]] : Infinity;
  }
  upperEdges[bins - 1] = Infinity;
  return { upperEdges, means, stds };
}

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
