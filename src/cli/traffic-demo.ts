/** The traffic part of `detour demo`: rb-aioutliers' lifecycle on a small sample, from raw minutes to scored days. */
import { addDays, dateRange } from '../dates.js';
import { partitionPrefix } from '../lake/index.js';
import { backfill, pipelineLayout, runParamsOf, startRun, startTrainingRun, trainingParamsOf } from '../pipeline/index.js';
import { writeSampleTraffic } from '../sample/index.js';
import { withStepProgress, type CliContext } from './context.js';
import { formatTable, labelledIncidentsReport, Progress, runSeconds } from './format.js';
import { printTrainingResult } from './model-format.js';

/** A few sensors, so that `npm start` stays quick: four weeks to train on, then a week to detect. */
const TRAFFIC_DEMO = { sensors: 4, days: 35, trainingDays: 28, from: '2024-03-04', seed: 7 } as const;

/**
 * Samples traffic if absent, cleans the four training weeks (no model yet: the shallow model scores
 * them), trains an autoencoder per sensor (promoted automatically, the first version of each),
 * detects each day of the fifth week with the production models and prints how the injected
 * incidents were found, per kind, and how many normal minutes were flagged.
 */
export async function runTrafficDemo(context: CliContext): Promise<void> {
  const pipeline = context.config.pipelines.traffic;
  const lastTrainingDay = addDays(TRAFFIC_DEMO.from, TRAFFIC_DEMO.trainingDays - 1);
  const firstDetectionDay = addDays(lastTrainingDay, 1);
  const lastDay = addDays(TRAFFIC_DEMO.from, TRAFFIC_DEMO.days - 1);
  if ((await context.lake.list(partitionPrefix('bronze', pipeline.dataset, lastDay))).length === 0) {
    console.log(`\ncreating sample traffic in ${context.lake.url}: ${TRAFFIC_DEMO.sensors} sensors × ${TRAFFIC_DEMO.days} days × 1440 minutes with injected incidents`);
    await writeSampleTraffic(context.lake, { ...TRAFFIC_DEMO, dataset: pipeline.dataset });
  }
  console.log(`\nrunning pipeline traffic on ${TRAFFIC_DEMO.from}..${lastTrainingDay}: the history the models learn from (no model yet: the shallow model scores it)`);
  const params = runParamsOf(context.config, 'traffic');
  await withStepProgress(context, 2, (services) => startRun(services, 'traffic', params, dateRange(TRAFFIC_DEMO.from, lastTrainingDay)));

  console.log(`\ntraining an autoencoder per sensor on ${TRAFFIC_DEMO.trainingDays} days up to ${lastTrainingDay} (promote: auto)`);
  const training = await withStepProgress(context, 2, (services) => startTrainingRun(services, 'traffic', trainingParamsOf(context.config, 'traffic'), lastTrainingDay));
  printTrainingResult(context, training);

  console.log(`\ndetecting ${firstDetectionDay}..${lastDay} with each sensor's production model, one run per day`);
  const services = await context.services({ concurrency: 2 });
  const progress = new Progress(TRAFFIC_DEMO.days - TRAFFIC_DEMO.trainingDays);
  const result = await backfill(services, 'traffic', params, firstDetectionDay, lastDay, {
    force: true,
    onDate: (date, outcome) => progress.finishItem(date, outcome.status === 'succeeded' ? `ok (run ${outcome.run.run.id})` : outcome.status),
  }).finally(() => progress.end());
  if (result.failed.length > 0) throw new Error(`traffic failed on ${result.failed.map((failure) => `${failure.date}: ${failure.error}`).join('; ')}`);
  const days = result.succeeded.map(({ run, summaries: [summary] }) => ({ run, summary }));
  console.log(`\n${formatTable(['date', 'rows', 'anomalies', 'seconds'], days.map(({ run, summary }) => [summary.logical_date, summary.rows_read, summary.anomalies, runSeconds(run)]))}`);
  console.log(`\n${labelledIncidentsReport(days.map(({ summary }) => summary))}`);
  const layout = pipelineLayout('traffic', pipeline, firstDetectionDay);
  console.log(`models: detour models list --name ${pipeline.train[0].model} · anomalies: table ${layout.anomaliesTable} in ${context.store.description}`);
}
