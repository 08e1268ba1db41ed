/** The fleet part of `npm start`: real weather, sample rides, the weekly model, daily probabilities, then what the model says. */
import { addDays, dateRange } from '../dates.js';
import { InputError } from '../errors.js';
import { partitionPrefix } from '../lake/index.js';
import { backfill, predictProbabilities, runParamsOf, startRun, startTrainingRun, trainingParamsOf } from '../pipeline/index.js';
import { serviceLogOdds } from '../sample/index.js';
import type { CliContext } from './context.js';
import { formatTable, Progress } from './format.js';
import { landSampleFleet, landSampleWeather } from './landing.js';

/** Four weeks of rides to train on (the model's `history`), then a few days predicted one run each. */
const FLEET_DEMO = { from: '2015-01-05', trainedOn: '2015-02-01', predictTo: '2015-02-04', ridesPerDay: 2_000, seed: 42 } as const;

/** The cases of the probability table. */
const CASES = [
  { case: 'mild, dry, short ride', temperature: 20, precipitation: 0, mileage: 3 },
  { case: 'mild, dry, long ride', temperature: 20, precipitation: 0, mileage: 15 },
  { case: 'cold rain, short ride', temperature: 3, precipitation: 15, mileage: 3 },
  { case: 'snowstorm, long ride', temperature: -5, precipitation: 30, mileage: 15 },
  { case: 'hot, dry, short ride', temperature: 32, precipitation: 0, mileage: 3 },
] as const;

/** The dates of `dates` whose bronze partition of `dataset` is empty. */
async function unlanded(context: CliContext, dataset: string, dates: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const date of dates) if ((await context.lake.list(partitionPrefix('bronze', dataset, date))).length === 0) missing.push(date);
  return missing;
}

/**
 * Lands the real weather and sample fleet rides if absent, cleans the weather, runs the fleet
 * pipeline over four weeks (rides joined with the day's weather into features), trains the weekly
 * model on them, predicts the next days one run each, and prints the probability of a service
 * request for a few weather and mileage cases with the model's validation ROC AUC.
 */
export async function runFleetDemo(context: CliContext): Promise<void> {
  const { config } = context;
  const { fleet, weather } = config.pipelines;
  if (fleet === undefined || weather === undefined) throw new InputError('the fleet demo needs the built-in fleet and weather pipelines');
  const dates = dateRange(FLEET_DEMO.from, FLEET_DEMO.predictTo);
  if ((await unlanded(context, weather.dataset, [FLEET_DEMO.from])).length > 0) {
    console.log(`\nlanding the real daily weather of New York and Seattle, 2012–2015 (vega-datasets) in ${context.lake.url}/bronze/${weather.dataset}/`);
    await landSampleWeather(context.lake, weather.dataset);
  }
  const missing = await unlanded(context, fleet.dataset, dates);
  if (missing.length > 0) {
    console.log(`landing sample fleet rides for ${missing.length} day(s) × ${FLEET_DEMO.ridesPerDay} (service requests depend on the day's weather and the mileage)`);
    const progress = new Progress(missing.length);
    try {
      for (const date of missing) await landSampleFleet(context.lake, fleet.dataset, { ...FLEET_DEMO, from: date, to: date }, (day, key) => progress.finishItem(day, key));
    } finally {
      progress.end();
    }
  }
  const services = await context.services({ concurrency: 2 });
  console.log(`\ncleaning the weather of ${FLEET_DEMO.from}..${FLEET_DEMO.predictTo}, then pipeline fleet on ${FLEET_DEMO.from}..${FLEET_DEMO.trainedOn} (clean, join weather, features)`);
  await startRun(services, 'weather', runParamsOf(config, 'weather'), dates);
  await startRun(services, 'fleet', runParamsOf(config, 'fleet'), dateRange(FLEET_DEMO.from, FLEET_DEMO.trainedOn));
  const training = await startTrainingRun(services, 'fleet', trainingParamsOf(config, 'fleet'), FLEET_DEMO.trainedOn);
  for (const trained of training.summary.models.flatMap((model) => model.trained)) console.log(`trained ${trained.name} v${trained.version} on ${training.summary.models[0].window.from}..${training.summary.models[0].window.to}: ${trained.stage} (${trained.reason})`);

  console.log(`\npredicting ${addDays(FLEET_DEMO.trainedOn, 1)}..${FLEET_DEMO.predictTo}, one run per day as rides land`);
  const progress = new Progress(dateRange(addDays(FLEET_DEMO.trainedOn, 1), FLEET_DEMO.predictTo).length);
  const predicted = await backfill(services, 'fleet', runParamsOf(config, 'fleet'), addDays(FLEET_DEMO.trainedOn, 1), FLEET_DEMO.predictTo, {
    force: true,
    onDate: (date, outcome) => {
      const predictions = outcome.status === 'succeeded' ? outcome.run.summaries[0]?.predictions : undefined;
      progress.finishItem(date, predictions === undefined ? outcome.status : 'skipped' in predictions ? predictions.skipped : `${predictions.rows} rides predicted by ${predictions.model.name} v${predictions.model.version}`);
    },
  }).finally(() => progress.end());
  if (predicted.failed.length > 0) throw new Error(`fleet failed on ${predicted.failed.map((failure) => `${failure.date}: ${failure.error}`).join('; ')}`);

  const model = await context.supervisedModels.production('fleet_service');
  if (model === null) throw new Error('model fleet_service has no production version after training');
  const probabilities = predictProbabilities(model, CASES.map(({ temperature, precipitation, mileage }) => ({ temperature, precipitation, mileage })));
  const generating = (row: (typeof CASES)[number]) => 1 / (1 + Math.exp(-serviceLogOdds({ tempMax: row.temperature, precipitation: row.precipitation }, row.mileage)));
  console.log(`\nprobability of a service request after a ride (fleet_service v${model.record.version}; the sample's own function, before its noise, beside it):`);
  console.log(formatTable(['case', 'temperature °C', 'precipitation mm', 'mileage', 'probability', 'sample function'], CASES.map((row, k) => [row.case, row.temperature, row.precipitation, row.mileage, probabilities[k].toFixed(3), generating(row).toFixed(3)]), [0]));
  const metrics = model.record.metrics ?? {};
  console.log(`validation ROC AUC ${metrics.validation_auc?.toFixed(3) ?? '-'} · log loss ${metrics.validation_log_loss?.toFixed(4) ?? '-'} on the latest ${metrics.validation_rows?.toLocaleString('en-US') ?? '-'} rides of its window`);
  console.log(`predictions: table fleet_predictions in ${context.store.description} · ask it yourself: detour models show fleet_service`);
}
