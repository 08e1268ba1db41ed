import { InputError } from '../errors.js';

/** The medallion zones of the lake: raw as landed, cleaned and typed, published results. */
export type Zone = 'bronze' | 'silver' | 'gold';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Validates a `YYYY-MM-DD` calendar date (rejects 2024-02-30 and friends). */
export function assertIsoDate(value: string, what = 'date'): string {
  if (!ISO_DATE.test(value)) throw new InputError(`${what} must be YYYY-MM-DD, got "${value}"`);
  const parsed = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    throw new InputError(`${what} "${value}" is not a calendar date`);
  }
  return value;
}

/** Hive-style partition prefix, always ending in `/`: `silver/rides/date=2024-01-01/`. */
export function partitionPrefix(zone: Zone, dataset: string, logicalDate: string): string {
  return `${zone}/${dataset}/date=${assertIsoDate(logicalDate)}/`;
}

/** Inclusive list of dates from `from` to `to`. */
export function dateRange(from: string, to: string): string[] {
  assertIsoDate(from, '--from');
  assertIsoDate(to, '--to');
  if (from > to) throw new InputError(`--from ${from} is after --to ${to}`);
  const dates: string[] = [];
  for (let day = new Date(`${from}T00:00:00Z`); ; day.setUTCDate(day.getUTCDate() + 1)) {
    const iso = day.toISOString().slice(0, 10);
    if (iso > to) break;
    dates.push(iso);
  }
  return dates;
}
