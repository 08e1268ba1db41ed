/**
 * A small watched pipeline filled by real runs, for the routes and pages that show monitoring:
 * the built-in fleet pipeline as `watched` (a week of training, a few days predicted with their
 * ground truth), thresholds strict enough that the performance alarm fires, and a run that failed
 * then one that succeeded (`run_failed` fired, then resolved).
 */
import { landSampleFleet, landSampleWeather } from '../../src/cli/landing.js';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import type { Lake } from '../../src/lake/index.js';
import { runParamsOf, startRun, startTrainingRun, trainingParamsOf, type RunServices } from '../../src/pipeline/index.js';

export const WATCHED = {
  pipeline: 'watched',
  model: 'watched_service',
  training: dateRange('2014-06-24', '2014-06-30'),
  predicted: dateRange('2014-07-01', '2014-07-04'),
  /** No rides landed for it: its run fails. */
  failed: '2014-07-09',
  /** A day's AUC below this fires the performance alarm: the sample's model stays below it. */
  minAuc: 0.99,
  psi: 0.25,
} as const;

/** The `watched` pipeline's configuration (JSON, so YAML too): the built-in fleet pipeline, smaller. */
export function watchedPipelineConfig(): Record<string, unknown> {
  const { fleet } = DetourConfigSchema.parse({}).pipelines;
  return {
    ...fleet,
    train: [{ ...fleet.train[0], model: WATCHED.model, history: WATCHED.training.length, minRows: 300, schedule: undefined }],
    predict: { ...fleet.predict, model: WATCHED.model },
    monitor: {
      actuals: { table: 'ride_features', id: 'ride_id', label: 'service_requested' },
      drift: { windowDays: 1, psi: WATCHED.psi },
      alarms: { minAuc: WATCHED.minAuc, minRows: 100 },
    },
  };
}

/** Lands the weather and the watched days' rides, trains the model, predicts and monitors its days, and fails one run. */
export async function fillWatchedPipeline(lake: Lake, services: RunServices, config: DetourConfig): Promise<void> {
  const days = [...WATCHED.training, ...WATCHED.predicted];
  await landSampleWeather(lake, config.pipelines.weather.dataset);
  await landSampleFleet(lake, config.pipelines[WATCHED.pipeline].dataset, { from: days[0], to: days.at(-1) as string, ridesPerDay: 150, seed: 5 });
  await startRun(services, 'weather', runParamsOf(config, 'weather'), days);
  const run = (dates: string[]) => startRun(services, WATCHED.pipeline, runParamsOf(config, WATCHED.pipeline), dates);
  await run([...WATCHED.training]);
  await startTrainingRun(services, WATCHED.pipeline, trainingParamsOf(config, WATCHED.pipeline), WATCHED.training.at(-1) as string);
  await run([WATCHED.failed]).catch(() => undefined);
  for (const day of WATCHED.predicted) await run([day]);
}
