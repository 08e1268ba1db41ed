import { Option } from 'commander';
import { InputError } from '../errors.js';
import { assertIsoDate, dateRange } from '../dates.js';

/** Commander parsers and shared option shapes, each failing with one clear line. */

export function positiveNumber(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0) throw new InputError(`${flag} must be a positive number, got "${value}"`);
    return number;
  };
}

export function wholeNumber(flag: string, min: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < min) throw new InputError(`${flag} must be a whole number of at least ${min}, got "${value}"`);
    return number;
  };
}

/** Dates named by `--date D` or `--from D1 --to D2`. */
export function datesOf(options: { date?: string; from?: string; to?: string }): string[] {
  if (options.date !== undefined) {
    if (options.from !== undefined || options.to !== undefined) throw new InputError('give either --date or --from/--to, not both');
    return [assertIsoDate(options.date, '--date')];
  }
  if (options.from === undefined || options.to === undefined) throw new InputError('give --date YYYY-MM-DD, or --from and --to');
  return dateRange(options.from, options.to);
}

/** `--parallel N` of the commands that execute a run's steps here: two, one per core of a small machine. */
export function stepParallelOption(): Option {
  return new Option('--parallel <n>', 'step partitions run at once in this process (embedded mode)').argParser(wholeNumber('--parallel', 1)).default(2);
}
