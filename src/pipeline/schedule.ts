import type { DetourConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { Scheduler } from '../scheduler/index.js';
import type { RunResult, RunServices } from './executor.js';
import { runParamsOf, startRun } from './runs.js';

export interface PipelineSchedulerOptions {
  /** The clock; tests move it. */
  now?: () => Date;
  onRun?: (result: RunResult) => void;
  onError?: (pipeline: string, logicalDate: string | null, error: unknown) => void;
}

/**
 * A scheduler for `pipelines` on their configured cron schedules: each due tick is claimed in the
 * run store (so that any number of schedulers start it once) and run for its logical date.
 */
export function pipelineScheduler(services: RunServices, config: DetourConfig, pipelines: string[], options: PipelineSchedulerOptions = {}): Scheduler {
  for (const name of pipelines) {
    if (!(name in config.pipelines)) throw new InputError(`unknown pipeline "${name}" (available: ${Object.keys(config.pipelines).join(', ')})`);
  }
  return new Scheduler({
    schedules: Object.fromEntries(pipelines.map((name) => [name, config.pipelines[name].schedule])),
    claim: (pipeline, logicalDate, tickAt) => services.store.claimScheduledRun(pipeline, logicalDate, tickAt),
    lastTick: (pipeline) => services.store.lastScheduledTick(pipeline),
    launch: async (pipeline, logicalDate) => {
      services.logger?.info({ pipeline, logicalDate }, 'scheduled run starting');
      // Not `onRun?.(await startRun(...))`: optional calls skip evaluating their arguments.
      const result = await startRun(services, pipeline, runParamsOf(config, pipeline), [logicalDate]);
      options.onRun?.(result);
    },
    now: options.now,
    onError: options.onError,
  });
}
