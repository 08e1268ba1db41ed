import { readFileSync } from 'node:fs';
import type { RowRules } from '../../src/quality/index.js';

/** Folder of the test fixtures (copies of ../shared/fixtures and small files of our own). */
export const FIXTURES = new URL('../fixtures/', import.meta.url);

/** A numeric fixture CSV as named Float64Array columns. */
export function readNumericCsv(file: string): Record<string, Float64Array> {
  const [header, ...lines] = readFileSync(new URL(file, FIXTURES), 'utf8').trim().split(/\r?\n/);
  const names = header.split(',');
  const columns = names.map(() => new Float64Array(lines.length));
  lines.forEach((line, row) => line.split(',').forEach((cell, k) => (columns[k][row] = Number(cell))));
  return Object.fromEntries(names.map((name, k) => [name, columns[k]]));
}

/** The row rules of the built-in rides dataset, on its raw column names. */
export const RIDE_ROW_RULES: RowRules = {
  idColumn: 'ride_id',
  requiredColumns: ['taxi_id'],
  numericColumns: [
    { name: 'ride_dist_km', min: 0 },
    { name: 'ride_time_min', min: 0 },
  ],
  timestampColumns: ['pickup_ts', 'dropoff_ts'],
  orderedTimestamps: [['pickup_ts', 'dropoff_ts']],
};
