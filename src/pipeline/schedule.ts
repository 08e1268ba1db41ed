import type { DetourConfig, ScheduleConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { Scheduler } from '../scheduler/index.js';
import type { RunResult, RunServices } from './executor.js';
import { runParamsOf, startRun } from './runs.js';
import { startTrainingRun, trainingParamsOf } from './training.js';

export interface PipelineSchedulerOptions {
  /** The clock; tests move it. */
  now?: () => Date;
  onRun?: (result: RunResult) => void;
  onError?: (pipeline: string, logicalDate: string | null, error: unknown) => void;
}

/** The schedule key of a training step: its claims in the store are apart from its pipeline's. */
export function trainingScheduleKey(pipeline: string, model: string): string {
  return `${pipeline}/train/${model}`;
}

/**
 * A scheduler for `pipelines` on their configured cron schedules (those with `trigger: schedule`), and for each of their training
 * steps that has a `schedule`: each due tick is claimed in the run store (so that any number of
 * schedulers start it once) and run for its logical date (a training run's date is the last day of
 * its training window). Schedules are keyed by pipeline, and by `<pipeline>/train/<model>`.
 */
export function pipelineScheduler(services: RunServices, config: DetourConfig, pipelines: string[], options: PipelineSchedulerOptions = {}): Scheduler {
  for (const name of pipelines) {
    if (!(name in config.pipelines)) throw new InputError(`unknown pipeline "${name}" (available: ${Object.keys(config.pipelines).join(', ')})`);
  }
  const launchers = new Map<string, { schedule: ScheduleConfig; launch: (logicalDate: string) => Promise<RunResult> }>();
  for (const pipeline of pipelines) {
    // A pipeline with `trigger: landed` runs when its data lands (landed.ts); its training steps keep their schedules.
    if (config.pipelines[pipeline].trigger === 'schedule') {
      launchers.set(pipeline, { schedule: config.pipelines[pipeline].schedule, launch: (date) => startRun(services, pipeline, runParamsOf(config, pipeline), [date]) });
    }
    for (const step of config.pipelines[pipeline].train) {
      if (step.schedule === undefined) continue;
      // Checked now, so that a bad training step fails `serve` at startup rather than at its tick.
      const params = trainingParamsOf(config, pipeline, { models: [step.model] });
      launchers.set(trainingScheduleKey(pipeline, step.model), { schedule: step.schedule, launch: (date) => startTrainingRun(services, pipeline, params, date) });
    }
  }
  return new Scheduler({
    schedules: Object.fromEntries([...launchers].map(([key, { schedule }]) => [key, schedule])),
    claim: (key, logicalDate, tickAt) => services.store.claimScheduledRun(key, logicalDate, tickAt),
    lastTick: (key) => services.store.lastScheduledTick(key),
    launch: async (key, logicalDate) => {
      services.logger?.info({ schedule: key, logicalDate }, 'scheduled run starting');
      // Not `onRun?.(await launch(...))`: optional calls skip evaluating their arguments.
      const result = await (launchers.get(key) as { launch: (date: string) => Promise<RunResult> }).launch(logicalDate);
      options.onRun?.(result);
    },
    now: options.now,
    onError: options.onError,
  });
}
