/** Series and records from a request body into the typed arrays detectors take, checked for what detectors cannot judge. */
import { InputError } from '../errors.js';
import { ApiError } from './errors.js';

/** A series as detectors take it, with each timestamp as the client wrote it (answers echo those). */
export interface RequestSeries {
  timestampsMs: Float64Array;
  values: Float64Array;
  timestamps: readonly string[];
}

/** Records as detectors take them: one column per feature, and each record's id. */
export interface RequestRecords {
  columns: Float64Array[];
  ids: string[];
}

function checkCount(count: number, maxPoints: number, what: string): void {
  if (count > maxPoints) throw new ApiError(413, `${count} ${what}, more than the ${maxPoints} one request may send (api.maxPoints)`);
  if (count < 2) throw new InputError(`${count === 0 ? 'no' : 'one'} ${what.replace(/s$/, '')}: detection needs at least 2`);
}

/**
 * Points (ISO 8601 timestamps, each later than the one before; a null value is a missing point)
 * into a series. `where` names the points in messages, e.g. `series`.
 *
 * @throws InputError for fewer than 2 points, timestamps out of order or repeated; ApiError 413 beyond `maxPoints`.
 */
export function seriesOf(points: readonly { timestamp: string; value: number | null }[], maxPoints: number, where: string): RequestSeries {
  const timestampsMs = new Float64Array(points.length);
  const values = new Float64Array(points.length);
  points.forEach((point, index) => {
    timestampsMs[index] = Date.parse(point.timestamp);
    values[index] = point.value ?? Number.NaN;
  });
  return checkedSeries({ timestampsMs, values, timestamps: points.map((point) => point.timestamp) }, maxPoints, where);
}

/**
 * A series a route read itself (timestamps parsed, NaN for a missing value), checked as
 * {@link seriesOf} checks points.
 *
 * @throws InputError for fewer than 2 points, timestamps out of order or repeated; ApiError 413 beyond `maxPoints`.
 */
export function checkedSeries(series: RequestSeries, maxPoints: number, where: string): RequestSeries {
  const { timestampsMs, values, timestamps } = series;
  checkCount(values.length, maxPoints, 'points');
  for (let index = 1; index < timestampsMs.length; index++) {
    if (!(timestampsMs[index] > timestampsMs[index - 1])) {
      throw new InputError(`${where}[${index}].timestamp ${timestamps[index]} is not after ${where}[${index - 1}]'s ${timestamps[index - 1]}: timestamps must ascend without repeats`);
    }
  }
  if (!values.some((value) => value === value)) throw new InputError(`${where}: every value is null; there is nothing to judge`);
  return series;
}

/**
 * Records into one column per feature; each record must hold a finite number for every feature.
 * A record's id is its `id` field, else its position.
 *
 * @throws InputError for a missing or non-numeric feature value; ApiError 413 beyond `maxPoints`.
 */
export function recordsOf(records: readonly Record<string, unknown>[], features: readonly string[], maxPoints: number): RequestRecords {
  checkCount(records.length, maxPoints, 'records');
  const columns = features.map(() => new Float64Array(records.length));
  const ids = records.map((record, index) => {
    features.forEach((feature, f) => {
      const value = record[feature];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new InputError(`records[${index}].${feature} must be a number, got ${value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 40)}`);
      }
      columns[f][index] = value;
    });
    const id = record.id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : String(index);
  });
  return { columns, ids };
}
