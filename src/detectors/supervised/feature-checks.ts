/**
 * What a supervised model accepts: its features, in order, and the range each may take (declared
 * with its training step and stored with the model). Rows outside it are neither learnt from nor
 * scored: a typed row gets the reason it was passed over, an object row (an API request) an
 * InputError saying what is wrong with it.
 */
import { InputError } from '../../errors.js';

/** Bounds of a feature's values, both inclusive. */
export interface FeatureRange {
  min?: number;
  max?: number;
}

export interface FeatureContract {
  features: readonly string[];
  ranges: Readonly<Record<string, FeatureRange>>;
}

/** `within -60..60`, `>= 0` or `<= 60`; empty for no bounds. */
export function describeRange(range: FeatureRange): string {
  if (range.min !== undefined && range.max !== undefined) return `within ${range.min}..${range.max}`;
  if (range.min !== undefined) return `>= ${range.min}`;
  return range.max !== undefined ? `<= ${range.max}` : '';
}

function outside(range: FeatureRange | undefined, value: number): boolean {
  return range !== undefined && ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max));
}

/**
 * Why row `row` of `columns` (the contract's features in order, NaN for missing) cannot be used:
 * `temperature missing` or `mileage must be >= 0`; undefined when it can. Reasons carry no value,
 * so that rows passed over for the same reason are counted together.
 */
export function rowProblem(contract: FeatureContract, columns: readonly Float64Array[], row: number): string | undefined {
  for (let k = 0; k < contract.features.length; k++) {
    const value = columns[k][row];
    const feature = contract.features[k];
    if (!Number.isFinite(value)) return `${feature} missing`;
    const range = contract.ranges[feature];
    if (outside(range, value)) return `${feature} must be ${describeRange(range)}`;
  }
  return undefined;
}

function shown(value: unknown): string {
  if (typeof value === 'number') return String(value);
  const json = JSON.stringify(value) ?? String(value);
  return `${value === null ? '' : `${Array.isArray(value) ? 'array' : typeof value} `}${json.length > 40 ? `${json.slice(0, 40)}…` : json}`;
}

/**
 * Rows given as objects (`{temperature: 12, precipitation: 0, mileage: 40}`) as the contract's
 * feature columns. Every row must have exactly the contract's features, each a finite number in
 * its range; otherwise one InputError names the first problem (and the row, `rows[3]: `, when
 * there are several rows).
 *
 * @example
 * featureColumns({ features: ['temperature'], ranges: { temperature: { min: -60, max: 60 } } }, [{ temperature: 75 }]);
 * // InputError: temperature must be within -60..60, got 75
 */
export function featureColumns(contract: FeatureContract, rows: readonly unknown[]): Float64Array[] {
  const { features } = contract;
  const known = new Set(features);
  const columns = features.map(() => new Float64Array(rows.length));
  const takes = `the model takes ${features.join(', ')}`;
  rows.forEach((candidate, row) => {
    const where = rows.length > 1 ? `rows[${row}]: ` : '';
    if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate)) throw new InputError(`${where}expected an object of features (${takes}), got ${shown(candidate)}`);
    // for...in and Reflect.get read the object as it is, without copying it: a request may hold 10,000 rows.
    for (const name in candidate) if (!known.has(name)) throw new InputError(`${where}unknown feature "${name}" (${takes})`);
    for (let k = 0; k < features.length; k++) {
      const feature = features[k];
      if (!Object.hasOwn(candidate, feature)) throw new InputError(`${where}missing feature "${feature}" (${takes})`);
      const value: unknown = Reflect.get(candidate, feature);
      if (typeof value !== 'number') throw new InputError(`${where}${feature} must be a number, got ${shown(value)}`);
      if (!Number.isFinite(value)) throw new InputError(`${where}${feature} must be a finite number, got ${value}`);
      const range = contract.ranges[feature];
      if (outside(range, value)) throw new InputError(`${where}${feature} must be ${describeRange(range)}, got ${value}`);
      columns[k][row] = value;
    }
  });
  return columns;
}
