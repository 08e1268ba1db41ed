/**
 * Drives pipelines' schedules: on each tick, claims the due (pipeline, logical date) pairs in the
 * store and launches the ones this scheduler won. Several schedulers may run side by side; the
 * store's unique claim key makes sure each pair starts once.
 */
import { oneLine } from '../errors.js';
import { dueRuns, nextTick, type PipelineSchedule } from './schedule.js';

/** What a {@link Scheduler} needs from the rest of the system. */
export interface SchedulerOptions {
  /** Schedule per pipeline name. */
  schedules: Record<string, PipelineSchedule>;
  /**
   * Records that a scheduler takes (pipeline, logicalDate); true only for the one caller that
   * won it. The store implements it with a unique key, so two schedulers never start the same pair.
   */
  claim: (pipeline: string, logicalDate: string, tickAt: Date) => Promise<boolean>;
  /** Starts the run (typically: enqueues it). */
  launch: (pipeline: string, logicalDate: string) => Promise<void>;
  /** The newest claimed `tickAt` of a pipeline, from the store; null if never claimed. */
  lastTick: (pipeline: string) => Promise<Date | null>;
  now?: () => Date;
  /**
   * A failure of one pipeline during a tick. `logicalDate` is null when it happened before any
   * date was known (reading `lastTick`). Default: one line on stderr.
   */
  onError?: (pipeline: string, logicalDate: string | null, error: unknown) => void;
}

/** A (pipeline, logical date) pair a tick launched. */
export interface LaunchedRun {
  pipeline: string;
  logicalDate: string;
}

/**
 * Ticks pipelines' schedules: see {@link Scheduler.tick}. `start()` ticks on an interval, `stop()`
 * ends that; the claim in the store, not this class, keeps two schedulers from doubling a run.
 */
export class Scheduler {
  private readonly options: SchedulerOptions;
  private readonly now: () => Date;
  private readonly onError: (pipeline: string, logicalDate: string | null, error: unknown) => void;
  private timer: ReturnType<typeof setInterval> | undefined;
  private runningTick: Promise<unknown> | undefined;

  constructor(options: SchedulerOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
    this.onError = options.onError ?? reportToStderr;
    // Parsing every schedule once here makes a typo fail at startup (InputError), not at a tick.
    for (const schedule of Object.values(options.schedules)) nextTick(schedule, this.now());
  }

  /**
   * Claims and launches every due run of every pipeline; returns the runs launched. Pipelines run
   * side by side; within a pipeline dates are claimed and launched one after another, oldest
   * first. A failed launch is reported to `onError` and the next date still runs. A failed claim
   * or `lastTick` is reported too and ends that pipeline's tick, so no later date is claimed past
   * a date that was never claimed.
   */
  async tick(): Promise<LaunchedRun[]> {
    const now = this.now();
    const perPipeline = await Promise.all(Object.entries(this.options.schedules).map(([pipeline, schedule]) => this.tickPipeline(pipeline, schedule, now)));
    return perPipeline.flat();
  }

  /** Ticks now and then every `intervalMs`, skipping a beat while the previous tick still runs. */
  start(intervalMs = 30_000): void {
    if (this.timer !== undefined) return;
    const beat = () => {
      if (this.runningTick !== undefined) return;
      this.runningTick = this.tick()
        // tick() reports per-pipeline failures itself; this only catches a throwing onError.
        .catch((error: unknown) => console.error(`scheduler: tick failed: ${oneLine(error)}`))
        .finally(() => {
          this.runningTick = undefined;
        });
    };
    this.timer = setInterval(beat, intervalMs);
    beat();
  }

  /** Stops ticking and waits for a running tick to finish. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.runningTick;
  }

  private async tickPipeline(pipeline: string, schedule: PipelineSchedule, now: Date): Promise<LaunchedRun[]> {
    const { claim, launch, lastTick } = this.options;
    let since: Date | null;
    try {
      since = await lastTick(pipeline);
    } catch (error) {
      this.onError(pipeline, null, error);
      return [];
    }
    const launched: LaunchedRun[] = [];
    for (const { tickAt, logicalDate } of dueRuns(schedule, since, now)) {
      try {
        if (!(await claim(pipeline, logicalDate, tickAt))) continue; // another scheduler has it
      } catch (error) {
        this.onError(pipeline, logicalDate, error);
        break;
      }
      try {
        await launch(pipeline, logicalDate);
        launched.push({ pipeline, logicalDate });
      } catch (error) {
        this.onError(pipeline, logicalDate, error);
      }
    }
    return launched;
  }
}

function reportToStderr(pipeline: string, logicalDate: string | null, error: unknown): void {
  console.error(`scheduler: ${pipeline}${logicalDate === null ? '' : ` ${logicalDate}`}: ${oneLine(error)}`);
}
