/** Checks of the feature columns that dbscan and nearestCoreDistance both take. */
import { InputError } from '../../errors.js';

/** Most feature columns the grid and the nearest-core tree handle. */
export const MAX_FEATURES = 4;

/**
 * The row count of 1 to MAX_FEATURES Float64Array columns of one length.
 *
 * @throws InputError naming `caller` on a wrong number of columns, or a column of another type or length.
 */
export function validateColumns(columns: readonly Float64Array[], caller: string): number {
  if (!Array.isArray(columns) || columns.length < 1 || columns.length > MAX_FEATURES) {
    const count = Array.isArray(columns) ? columns.length : typeof columns;
    throw new InputError(`${caller}: expected 1 to ${MAX_FEATURES} feature columns, got ${count}`);
  }
  for (let k = 0; k < columns.length; k++) {
    if (!(columns[k] instanceof Float64Array)) throw new InputError(`${caller}: feature ${k} is not a Float64Array`);
    if (columns[k].length !== columns[0].length) {
      throw new InputError(
        `${caller}: feature ${k} has ${columns[k].length} values but feature 0 has ${columns[0].length}`,
      );
    }
  }
  return columns[0].length;
}

/** Min and max of every column; throws on the first NaN or infinite value. */
export function axisRanges(columns: readonly Float64Array[], rowCount: number, caller: string) {
  const lows = new Float64Array(columns.length);
  const highs = new Float64Array(columns.length);
  for (let k = 0; k < columns.length; k++) {
    const column = columns[k];
    let low = Infinity;
    let high = -Infinity;
    let sawNaN = false;
    for (let row = 0; row < rowCount; row++) {
      const value = column[row];
      if (value < low) low = value;
      if (value > high) high = value;
      if (value !== value) sawNaN = true;
    }
    if (sawNaN || !Number.isFinite(low) || !Number.isFinite(high)) {
      const row = column.findIndex((value) => !Number.isFinite(value));
      throw new InputError(`${caller}: feature ${k} has a non-finite value (${column[row]}) at row ${row}`);
    }
    lows[k] = low;
    highs[k] = high;
  }
  return { lows, highs };
}
