/**
 * Scheduler capability: turns cron schedules into (pipeline, logical date) runs, claims each one
 * in the store so it starts exactly once across schedulers, and launches it.
 *
 * @example
 * const scheduler = new Scheduler({
 *   schedules: { rides: { cron: '0 1 * * *', timezone: 'Europe/Berlin', catchup: true, lagDays: 1 } },
 *   claim: (pipeline, logicalDate, tickAt) => store.claimScheduledRun(pipeline, logicalDate, tickAt),
 *   launch: (pipeline, logicalDate) => queue.enqueue({ pipeline, logicalDate }),
 *   lastTick: (pipeline) => store.lastScheduledTick(pipeline),
 * });
 * scheduler.start();
 * // on shutdown:
 * await scheduler.stop();
 */
export { dueRuns, nextTick, type DueRun, type PipelineSchedule } from './schedule.js';
export { Scheduler, type LaunchedRun, type SchedulerOptions } from './scheduler.js';
