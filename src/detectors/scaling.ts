import { InputError } from '../errors.js';

/** Result of {@link standardScale}: the scaled columns and the per-column parameters used. */
export interface StandardScaled {
  scaled: Float64Array[];
  mean: number[];
  /** Divisor of each column: its population standard deviation, or 1 for a constant column. */
  std: number[];
}

const DOUBLE_EPSILON = 2 ** -52;
/**
 * Above this magnitude a column is scaled down by a power of two before its sums: at most 2^53
 * rows of values up to 2^480 keep the sum of squared deviations below 2^1024, the float limit.
 */
const LARGEST_UNSCALED_MAGNITUDE = 2 ** 480;

/**
 * Standardises each column to zero mean and unit variance, like scikit-learn's
 * `StandardScaler().fit_transform`: population standard deviation (ddof=0), `(x - mean) / std`, and
 * a constant column (variance no larger than its rounding error, sklearn's `_is_constant_feature`)
 * is divided by 1 instead. Sums are compensated, so means stay exact to the last digits at 10M rows.
 * Any finite column scales, up to `Number.MAX_VALUE`: a column of huge values is computed in units
 * of a power of two, which changes no bit of the result, only what the sums can hold.
 *
 * @throws InputError on an empty column or a non-finite value, naming the feature and row.
 */
export function standardScale(columns: readonly Float64Array[]): StandardScaled {
  const scaled: Float64Array[] = [];
  const mean: number[] = [];
  const std: number[] = [];
  columns.forEach((column, k) => {
    const count = column.length;
    if (count === 0) throw new InputError(`standardScale: feature ${k} is empty`);
    // Every sum below is of the column in `unit`s: values, mean and variance alike.
    const unit = magnitudeUnit(column, k);
    const perUnit = 1 / unit;
    const { columnMean, variance } = meanAndVariance(column, perUnit);
    // sklearn's _is_constant_feature: the variance is no larger than its own rounding error.
    const varianceNoise = count * DOUBLE_EPSILON * variance + (count * columnMean * DOUBLE_EPSILON) ** 2;
    // A constant column is divided by 1, which is 1 / unit in units.
    const divisor = variance <= varianceNoise ? perUnit : Math.sqrt(variance);
    const out = new Float64Array(count);
    for (let row = 0; row < count; row++) out[row] = (column[row] * perUnit - columnMean) / divisor;
    scaled.push(out);
    mean.push(columnMean * unit);
    std.push(divisor * unit);
  });
  return { scaled, mean, std };
}

/**
 * 1, or for a column of huge values the power of two at its largest magnitude (so that every value
 * in units of it is at most 2). Powers of two scale floats exactly, whatever the unit.
 */
function magnitudeUnit(column: Float64Array, k: number): number {
  let largest = 0;
  for (let row = 0; row < column.length; row++) {
    const magnitude = Math.abs(column[row]);
    if (!(magnitude <= Number.MAX_VALUE)) throw new InputError(`standardScale: feature ${k} has a non-finite value (${column[row]}) at row ${row}`);
    if (magnitude > largest) largest = magnitude;
  }
  // log2 may round up to 1024 near the float limit, where 2^1024 is Infinity.
  return largest <= LARGEST_UNSCALED_MAGNITUDE ? 1 : 2 ** Math.min(1023, Math.floor(Math.log2(largest)));
}

/** Two-pass mean and population variance of `column * scale` with sklearn's correction term, all sums compensated. */
function meanAndVariance(column: Float64Array, scale: number): { columnMean: number; variance: number } {
  const count = column.length;
  const columnMean = compensatedSum(column, scale, 0, false) / count;
  // Subtracting (sum of deviations)^2 / n cancels the rounding error of the mean.
  const deviationSum = compensatedSum(column, scale, columnMean, false);
  const squaredDeviationSum = compensatedSum(column, scale, columnMean, true);
  const variance = Math.max(0, (squaredDeviationSum - (deviationSum * deviationSum) / count) / count);
  return { columnMean, variance };
}

/** Neumaier-compensated sum of `value * scale - shift`, or of its square. */
function compensatedSum(column: Float64Array, scale: number, shift: number, squared: boolean): number {
  let sum = 0;
  let error = 0;
  for (let row = 0; row < column.length; row++) {
    const deviation = column[row] * scale - shift;
    const term = squared ? deviation * deviation : deviation;
    const next = sum + term;
    error += Math.abs(sum) >= Math.abs(term) ? sum - next + term : term - next + sum;
    sum = next;
  }
  return sum + error;
}
