/** The check of the feature columns that fitting and scoring both take. */
import { InputError } from '../../errors.js';
import { MAX_FEATURES } from './model.js';

/**
 * Checks the columns (all finite, of one length; `featureCount` of them when given) and returns
 * the row count.
 */
export function checkColumns(columns: readonly Float64Array[], featureCount: number | null): number {
  if (!Array.isArray(columns) || columns.length < 1 || columns.length > MAX_FEATURES) {
    const count = Array.isArray(columns) ? columns.length : typeof columns;
    throw new InputError(`isolation forest: expected 1 to ${MAX_FEATURES} feature columns, got ${count}`);
  }
  if (featureCount !== null && columns.length !== featureCount) {
    throw new InputError(`isolation forest: the model was fitted on ${featureCount} features, got ${columns.length}`);
  }
  for (let k = 0; k < columns.length; k++) {
    const column = columns[k];
    if (!(column instanceof Float64Array)) throw new InputError(`isolation forest: feature ${k} is not a Float64Array`);
    if (column.length !== columns[0].length) {
      throw new InputError(`isolation forest: feature ${k} has ${column.length} values but feature 0 has ${columns[0].length}`);
    }
    // x - x is 0 for finite x and NaN for NaN and ±Infinity, so one check per value finds both.
    let check = 0;
    for (let row = 0; row < column.length; row++) check += column[row] - column[row];
    if (check !== 0) {
      const row = column.findIndex((value) => !Number.isFinite(value));
      throw new InputError(`isolation forest: feature ${k} has a non-finite value (${column[row]}) at row ${row}`);
    }
  }
  return columns[0].length;
}
