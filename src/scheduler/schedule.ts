/**
 * Scheduling arithmetic: which cron ticks are due and which logical date each one processes.
 * Pure functions over dates; croner does the cron matching, including DST in time zones.
 */
import { isoDateOf } from '../dates.js';
import { Cron } from 'croner';
import { InputError, oneLine } from '../errors.js';

/** When a pipeline runs and which day it processes. */
export interface PipelineSchedule {
  /** A 5-part (minute precision) or 6-part (with seconds) cron expression, or a nickname like `@daily`. */
  cron: string;
  /** IANA time zone the cron expression and the logical date are read in, e.g. `Europe/Berlin`. */
  timezone: string;
  /** Run every tick missed while no scheduler was running (true) or only the latest one (false). */
  catchup: boolean;
  /** Days between a tick and the logical date it processes; daily default 1 = the previous day. */
  lagDays: number;
}

/** One tick that should run, and the logical date (YYYY-MM-DD) it processes. */
export interface DueRun {
  tickAt: Date;
  logicalDate: string;
}

/**
 * The ticks `t` with `since < t <= now`, oldest first, each with its logical date: the calendar
 * date of the tick in the schedule's time zone, minus `lagDays`.
 *
 * `since` is the last tick already handled; `null` (never ran) makes only the latest tick up to
 * `now` due, so a new pipeline does not backfill history. With `catchup: false` only the latest
 * due tick is returned. With catchup on, every missed tick is returned, so a minutely cron after
 * a long outage yields a long list.
 *
 * @example
 * dueRuns({ cron: '0 1 * * *', timezone: 'UTC', catchup: true, lagDays: 1 },
 *   new Date('2024-03-01T01:00:00Z'), new Date('2024-03-03T12:00:00Z'));
 * // [{ tickAt: 2024-03-02T01:00Z, logicalDate: '2024-03-01' },
 * //  { tickAt: 2024-03-03T01:00Z, logicalDate: '2024-03-02' }]
 * @throws InputError for an invalid cron expression, time zone or lagDays.
 */
export function dueRuns(schedule: PipelineSchedule, since: Date | null, now: Date): DueRun[] {
  const cron = compileSchedule(schedule);
  const toDueRun = (tickAt: Date): DueRun => ({ tickAt, logicalDate: logicalDateOf(tickAt, schedule) });
  if (since === null || !schedule.catchup) {
    const latest = latestTickAtOrBefore(cron, now);
    return latest !== null && (since === null || latest > since) ? [toDueRun(latest)] : [];
  }
  const due: DueRun[] = [];
  // nextRun is strictly after its argument, which is what `since < t` needs.
  for (let tickAt = cron.nextRun(since); tickAt !== null && tickAt <= now; tickAt = cron.nextRun(tickAt)) {
    due.push(toDueRun(tickAt));
  }
  return due;
}

/**
 * The first tick strictly after `after`, or null when the cron expression never fires again.
 * @throws InputError for an invalid cron expression, time zone or lagDays.
 */
export function nextTick(schedule: PipelineSchedule, after: Date): Date | null {
  return compileSchedule(schedule).nextRun(after);
}

/** Validates a schedule and returns croner's matcher for it (paused: it never fires by itself). */
function compileSchedule(schedule: PipelineSchedule): Cron {
  const { cron: expression, timezone, lagDays } = schedule;
  if (!isTimeZone(timezone)) throw new InputError(`schedule "${expression}": unknown time zone "${timezone}" (expected an IANA name such as "Europe/Berlin" or "UTC")`);
  if (!(Number.isInteger(lagDays) && lagDays >= 0)) throw new InputError(`schedule "${expression}": lagDays must be an integer >= 0, got ${lagDays}`);
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone, paused: true });
  } catch (error) {
    throw new InputError(`schedule "${expression}": invalid cron expression (${oneLine(error)})`, { cause: error });
  }
  // croner reads an ISO date string as a one-off job instead of failing; a schedule must repeat.
  if (cron.getPattern() === undefined) throw new InputError(`schedule "${expression}": invalid cron expression (a date, not a recurring pattern)`);
  return cron;
}

/** The latest tick `<= now`, or null if there is none. */
function latestTickAtOrBefore(cron: Cron, now: Date): Date | null {
  // previousRuns excludes a tick exactly at its reference but includes one earlier in the same
  // second, and ticks fall on whole seconds: 1 ms later makes a tick at exactly `now` count.
  const [latest] = cron.previousRuns(1, new Date(now.getTime() + 1));
  return latest ?? null;
}

function isTimeZone(timezone: string): boolean {
  // An empty string would silently mean the host's local zone to croner.
  if (timezone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** The tick's calendar date in the schedule's time zone, `lagDays` earlier, as YYYY-MM-DD. */
function logicalDateOf(tickAt: Date, schedule: PipelineSchedule): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: schedule.timezone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(tickAt);
  const part = (type: 'year' | 'month' | 'day') => Number(parts.find((candidate) => candidate.type === type)?.value);
  // Calendar arithmetic on a UTC midnight has no DST to trip over.
  const date = new Date(Date.UTC(part('year'), part('month') - 1, part('day') - schedule.lagDays));
  return isoDateOf(date);
}
