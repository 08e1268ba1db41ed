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
 * Standardises each column to zero mean and unit variance, like scikit-learn's
 * `StandardScaler().fit_transform`: population standard deviation (ddof=0), `(x - mean) / std`, and
 * a constant column (variance no larger than its rounding error, sklearn's `_is_constant_feature`)
 * is divided by 1 instead. Sums are compensated, so means stay exact to the last digits at 10M rows.
 *
 * @throws InputError on an empty column or a non-finite value.
 */
export function standardScale(columns: readonly Float64Array[]): StandardScaled {
  const scaled: Float64Array[] = [];
  const mean: number[] = [];
  const std: number[] = [];
  columns.forEach((column, k) => {
    const { columnMean, variance } = meanAndVariance(column, k);
    const count = column.length;
    // sklearn's _is_constant_feature: the variance is no larger than its own rounding error.
    const varianceNoise = count * DOUBLE_EPSILON * variance + (count * columnMean * DOUBLE_EPSILON) ** 2;
    const divisor = variance <= varianceNoise ? 1 : Math.sqrt(variance);
    const out = new Float64Array(count);
    for (let row = 0; row < count; row++) out[row] = (column[row] - columnMean) / divisor;
    scaled.push(out);
    mean.push(columnMean);
    std.push(divisor);
  });
  return { scaled, mean, std };
}

/** Two-pass mean and population variance with sklearn's correction term, all sums compensated. */
function meanAndVariance(column: Float64Array, k: number): { columnMean: number; variance: number } {
  const count = column.length;
  if (count === 0) throw new InputError(`standardScale: feature ${k} is empty`);
  const columnMean = compensatedSum(column, 0, false) / count;
  if (!Number.isFinite(columnMean)) {
    const row = column.findIndex((value) => !Number.isFinite(value));
    throw new InputError(
      row >= 0
        ? `standardScale: feature ${k} has a non-finite value (${column[row]}) at row ${row}`
        : `standardScale: feature ${k} overflows when summed`,
    );
  }
  // Subtracting (sum of deviations)^2 / n cancels the rounding error of the mean.
  const deviationSum = compensatedSum(column, columnMean, false);
  const squaredDeviationSum = compensatedSum(column, columnMean, true);
  const variance = Math.max(0, (squaredDeviationSum - (deviationSum * deviationSum) / count) / count);
  return { columnMean, variance };
}

/** Neumaier-compensated sum of `value - shift`, or of its square. */
function compensatedSum(column: Float64Array, shift: number, squared: boolean): number {
  let sum = 0;
  let error = 0;
  for (let row = 0; row < column.length; row++) {
    const deviation = column[row] - shift;
    const term = squared ? deviation * deviation : deviation;
    const next = sum + term;
    error += Math.abs(sum) >= Math.abs(term) ? sum - next + term : term - next + sum;
    sum = next;
  }
  return sum + error;
}
