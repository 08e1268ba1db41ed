/**
 * Calendar dates as detour passes them around: `YYYY-MM-DD` strings (UTC calendar days, the form
 * partitions, run records and JSON outputs share). Every conversion between them and day numbers
 * or Date values lives here.
 */
import { InputError } from './errors.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/** Whether `value` is a `YYYY-MM-DD` calendar date (2024-02-30 is not). */
export function isIsoDate(value: string): boolean {
  if (!ISO_DATE.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && isoDateOf(parsed) === value;
}

/** Returns `value` when it is a `YYYY-MM-DD` calendar date; InputError naming `what` otherwise. */
export function assertIsoDate(value: string, what = 'date'): string {
  if (!ISO_DATE.test(value)) throw new InputError(`${what} must be YYYY-MM-DD, got "${value}"`);
  if (!isIsoDate(value)) throw new InputError(`${what} "${value}" is not a calendar date`);
  return value;
}

/** The UTC calendar date of an instant. */
export function isoDateOf(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/** Days since 1970-01-01 (an integer): arithmetic on dates without time zones. */
export function dayNumber(date: string): number {
  return Date.parse(`${date}T00:00:00Z`) / DAY_MS;
}

/** The date `dayNumber` stands for. */
export function dateOfDayNumber(day: number): string {
  return isoDateOf(new Date(day * DAY_MS));
}

/** `date` moved by `days` (negative: back in time). */
export function addDays(date: string, days: number): string {
  return dateOfDayNumber(dayNumber(date) + days);
}

/** `20240105` for `2024-01-05`: the date part of stable anomaly ids such as `ORD20010105`. */
export function compactDate(date: string): string {
  return date.replaceAll('-', '');
}

/** Inclusive list of dates from `from` to `to`; InputError when either is no date or from > to. */
export function dateRange(from: string, to: string): string[] {
  assertIsoDate(from, '--from');
  assertIsoDate(to, '--to');
  if (from > to) throw new InputError(`--from ${from} is after --to ${to}`);
  const first = dayNumber(from);
  return Array.from({ length: dayNumber(to) - first + 1 }, (_, offset) => dateOfDayNumber(first + offset));
}
