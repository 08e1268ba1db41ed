import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { openEngine } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import type { FsLake } from '../../src/lake/index.js';
import {
  findModelVersion,
  loadSupervisedModel,
  ModelCache,
  pipelineLayout,
  predictProbabilities,
  promoteModelVersion,
  rerunRun,
  runParamsOf,
  startRun,
  startTrainingRun,
  trainingParamsOf,
  type RunServices,
} from '../../src/pipeline/index.js';
import { SeededRandom } from '../../src/random.js';
import type { Store } from '../../src/store/index.js';
import { openTempServices } from '../helpers/pipeline.js';

const FROM = '2024-05-01';
const TRAINED_TO = '2024-05-30';
const LATER = '2024-05-31';
const TRIPS_PER_DAY = 200;

/**
 * A day of vehicle trips whose chance of a service request grows with mileage and rain. Per 50
 * trips, one has a label of 2 and one none; per 100, one a negative mileage.
 */
function tripsCsv(date: string, random: SeededRandom): string {
  const lines = ['trip_id,started_at,temperature,precipitation,mileage,service_requested'];
  for (let trip = 0; trip < TRIPS_PER_DAY; trip++) {
    const temperature = random.uniform(-10, 35);
    const precipitation = random.next() < 0.6 ? 0 : random.uniform(0, 20);
    const mileage = random.uniform(0, 120);
    const logOdds = -2.5 + 0.035 * mileage + 0.08 * precipitation - 0.02 * temperature;
    const outcome = random.next() < 1 / (1 + Math.exp(-logOdds)) ? '1' : '0';
    const label = trip % 50 === 7 ? '2' : trip % 50 === 13 ? '' : outcome;
    const started = `${date} ${String(6 + (trip % 16)).padStart(2, '0')}:${String(trip % 60).padStart(2, '0')}:00`;
    lines.push(`${date}-${String(trip).padStart(3, '0')},${started},${temperature.toFixed(1)},${precipitation.toFixed(1)},${(trip % 100 === 21 ? -5 : mileage).toFixed(1)},${label}`);
  }
  return `${lines.join('\n')}\n`;
}

const YAML = `
datasets:
  trips:
    columns:
      trip_id: { type: string }
      started_at: { type: timestamp }
      temperature: { type: number }
      precipitation: { type: number, min: 0 }
      mileage: { type: number }
      service_requested: { type: number, required: false }
    key: trip_id
pipelines:
  fleet_test:
    dataset: trips
    train:
      - model: trip_service
        detector: logistic
        table: trips
        label: service_requested
        time: started_at
        features: [temperature, precipitation, mileage]
        ranges: { temperature: { min: -60, max: 60 }, mileage: { min: 0 } }
        history: 30
        minRows: 100
        promote: auto
      - { model: trip_trees, detector: gbdt, table: trips, label: service_requested, time: started_at, features: [temperature, precipitation, mileage], history: 30, params: { rounds: 30, depth: 3 } }
    predict: { model: trip_service, table: trips, id: trip_id }
`;

describe('supervised models: train with a label, predict a day, rerun with the same version', () => {
  let config: DetourConfig;
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  const train = (date: string, models: string[]) => startTrainingRun(services, 'fleet_test', trainingParamsOf(config, 'fleet_test', { models }), date);
  const run = (dates: string[], runConfig = config) => startRun(services, 'fleet_test', runParamsOf(runConfig, 'fleet_test'), dates);
  const layout = (date: string) => pipelineLayout('fleet_test', config.pipelines.fleet_test, date);

  beforeAll(async () => {
    config = parseConfigText(YAML, 'detour.yaml');
    ({ lake, store, services } = await openTempServices('detour-supervised-', { concurrency: 2 }));
    const random = new SeededRandom(5);
    for (const date of dateRange(FROM, LATER)) await lake.put(`bronze/trips/date=${date}/trips.csv`, tripsCsv(date, random));
  }, 120_000);
  afterAll(async () => {
    await services?.queue.close();
    await store?.close();
  });

  it('predicts nothing before the model has a production version, and says why', async () => {
    const result = await run(dateRange(FROM, TRAINED_TO));
    expect(result.run.params.prediction).toEqual({ model: 'trip_service', version: null });
    expect(result.summaries[0].predictions).toEqual({ skipped: 'no production version of model trip_service when the run started' });
    expect(await store.listPredictions('fleet_test_predictions', FROM)).toEqual([]);
  }, 120_000);

  it('trains one model of all rows, leaves out rows whose label is not 0 or 1 (counted with why), validates on the latest days and auto-promotes', async () => {
    const result = await train(TRAINED_TO, ['trip_service']);
    const [summary] = result.summary.models;
    expect(summary.window).toEqual({ from: FROM, to: TRAINED_TO });
    expect(summary.excluded).toEqual([
      { reason: 'label service_requested missing', rows: 120 },
      { reason: 'label service_requested not 0 or 1', rows: 120 },
      { reason: 'mileage must be >= 0', rows: 60 },
    ]);
    expect(summary.skipped).toEqual([]);
    const [trained] = summary.trained;
    expect(trained).toMatchObject({ entity: null, name: 'trip_service', version: 1, stage: 'production', reason: 'auto: no production version before' });
    expect(trained.metrics).toMatchObject({ training_rows: 4560, validation_rows: 1140, validation_loss: trained.metrics.validation_log_loss });
    expect(trained.metrics.validation_auc).toBeGreaterThan(0.7);
    expect(trained.calibration?.reduce((sum, bin) => sum + bin.rows, 0)).toBe(1140);
    const version = await store.getModelVersion('trip_service', 1);
    expect(version).toMatchObject({ detector: 'logistic', entity: null, stage: 'production', params: { l2: 1, label: 'service_requested', history: 30 } });
    expect(version.artifact?.key).toMatch(/^models\/trip_service\/v1\/model-[0-9a-f]{16}\.json$/);
    expect(version.inputs).toHaveLength(30);
    const loaded = await loadSupervisedModel(lake, version);
    expect(loaded.contract).toEqual({ features: ['temperature', 'precipitation', 'mileage'], ranges: { temperature: { min: -60, max: 60 }, mileage: { min: 0 } } });
    expect(loaded.facts.calibration).toEqual(trained.calibration);
  }, 120_000);

  it('writes a day’s probabilities to gold and the predictions table, naming the version; rows it cannot score are counted', async () => {
    const result = await run([LATER]);
    expect(result.run.params.prediction).toEqual({ model: 'trip_service', version: 1 });
    expect(result.summaries[0].predictions).toEqual({ model: { name: 'trip_service', version: 1 }, rows: 198, unscored: [{ reason: 'mileage must be >= 0', rows: 2 }], key: 'gold/fleet_test_predictions/date=2024-05-31/data.parquet' });
    const stored = await store.listPredictions('fleet_test_predictions', LATER);
    expect(stored).toHaveLength(198);
    expect(stored[0]).toMatchObject({ id: '2024-05-31-000', model: { name: 'trip_service', version: 1 }, runId: result.run.id });
    const model = await loadSupervisedModel(lake, await store.getModelVersion('trip_service', 1));
    expect(predictProbabilities(model, [stored[0].features])[0]).toBe(stored[0].probability);
    const engine = await openEngine();
    try {
      const [gold] = await engine.stage(lake, [layout(LATER).predictions]);
      const rows = await engine.rows<{ trip_id: string; probability: number; model: string; model_version: number }>('SELECT trip_id, probability, model, model_version FROM read_parquet($1)', [gold]);
      expect(rows.map((row) => row.trip_id)).toEqual(stored.map((row) => row.id));
      expect(rows[0]).toEqual({ trip_id: '2024-05-31-000', probability: stored[0].probability, model: 'trip_service', model_version: 1 });
    } finally {
      await engine.close();
    }
  }, 120_000);

  it('a rerun predicts with the version its run used, byte for byte, after a newer one was promoted', async () => {
    const first = await run([LATER]);
    const before = await lake.get(layout(LATER).predictions);
    const retrained = await train(LATER, ['trip_service']);
    const [again] = retrained.summary.models[0].trained;
    expect(again).toMatchObject({ version: 2 });
    expect(again.reason).toMatch(/^(auto|not promoted: worse): validation_loss 0\.\d+ vs production v1's 0\.\d+$/);
    await promoteModelVersion(store, lake, config.pipelines, 'trip_service', 2);
    const rerun = await rerunRun(services, first.run.id);
    expect(rerun.run.params.prediction).toEqual({ model: 'trip_service', version: 1 });
    expect(await lake.get(layout(LATER).predictions)).toEqual(before);
    expect((await store.listPredictions('fleet_test_predictions', LATER))[0].model).toEqual({ name: 'trip_service', version: 1 });
    // A new run predicts with what is production now; a pinned version stays pinned.
    expect((await run([LATER])).run.params.prediction).toEqual({ model: 'trip_service', version: 2 });
    const pipeline = config.pipelines.fleet_test;
    const pinned: DetourConfig = { ...config, pipelines: { ...config.pipelines, fleet_test: { ...pipeline, predict: { model: 'trip_service', table: 'trips', id: 'trip_id', version: 1 } } } };
    expect((await run([LATER], pinned)).summaries[0].predictions).toMatchObject({ model: { version: 1 } });
  }, 120_000);

  it('serves probabilities to callers through a cache, refusing bad rows with one line', async () => {
    const cache = new ModelCache({ lake, store, load: loadSupervisedModel });
    const model = await cache.production('trip_service');
    if (model === null) throw new Error('no production version');
    const [dry, wet] = predictProbabilities(model, [
      { temperature: 20, precipitation: 0, mileage: 10 },
      { temperature: 20, precipitation: 15, mileage: 100 },
    ]);
    expect(wet).toBeGreaterThan(dry);
    expect(() => predictProbabilities(model, [{ temperature: 75, precipitation: 0, mileage: 10 }])).toThrow(new InputError('temperature must be within -60..60, got 75'));
    expect(() => predictProbabilities(model, [{ temperature: 5, precipitation: 0 }])).toThrow(new InputError('missing feature "mileage" (the model takes temperature, precipitation, mileage)'));
  });

  it('a gbdt step trains its own model, kept as a candidate under manual promotion', async () => {
    const result = await train(TRAINED_TO, ['trip_trees']);
    const [trained] = result.summary.models[0].trained;
    expect(trained).toMatchObject({ name: 'trip_trees', version: 1, stage: 'candidate', reason: 'candidate (promote: manual)' });
    expect((await findModelVersion(store, 'trip_trees')).detector).toBe('gbdt');
    // Promoting checks the artifact loads, as for any model.
    expect(await promoteModelVersion(store, lake, config.pipelines, 'trip_trees', 1)).toMatchObject({ replaced: null, unchanged: false });
  }, 120_000);

  it('refuses a supervised step without a label, and a label on a per-entity detector, naming the field', () => {
    const steps = (step: string) => parseConfigText(YAML.replace('    predict: { model: trip_service, table: trips, id: trip_id }\n', '').replace(/    train:\n[\s\S]*$/, `    train:\n      - ${step}\n    detect:\n      - { detector: dbscan, table: trips, id: trip_id, features: [mileage] }\n`), 'detour.yaml');
    const withEntity = steps('{ model: m, detector: logistic, table: trips, entity: trip_id, time: started_at, features: [mileage] }');
    expect(() => trainingParamsOf(withEntity, 'fleet_test')).toThrow(new InputError('pipelines.fleet_test.train.0.label: logistic is a supervised model: give the label column (0 or 1) instead of entity'));
    const withLabel = steps('{ model: m, detector: iforest, table: trips, label: service_requested, time: started_at, features: [mileage] }');
    expect(() => trainingParamsOf(withLabel, 'fleet_test')).toThrow(new InputError('pipelines.fleet_test.train.0.entity: iforest fits a model per entity without outcomes: give entity instead of label'));
    expect(() => steps('{ model: m, detector: logistic, table: trips, label: service_requested, time: started_at, features: [mileage], ranges: { speed: { min: 0 } } }')).toThrow(/train\.0\.ranges: ranges may only name the step's features/);
  });
});

describe('a predict step in the config', () => {
  it('names a supervised model some training step trains', () => {
    const yaml = (predict: string) => `
datasets:
  trips: { columns: { trip_id: { type: string }, day: { type: timestamp }, mileage: { type: number }, late: { type: number } } }
pipelines:
  p:
    dataset: trips
    train:
      - { model: by_trip, detector: iforest, table: trips, entity: trip_id, time: day, features: [mileage] }
    predict: ${predict}
`;
    expect(() => parseConfigText(yaml('{ model: nope, table: trips, id: trip_id }'), 'detour.yaml')).toThrow('pipelines.p.predict.model: no training step trains model "nope" (supervised models: fleet_service)');
    expect(() => parseConfigText(yaml('{ model: by_trip, table: trips, id: trip_id }'), 'detour.yaml')).toThrow('pipelines.p.predict.model: model "by_trip" is trained per trip_id, without a label: predict needs a supervised model (supervised models: fleet_service)');
    expect(() => parseConfigText(yaml('{ model: by_trip, table: nope, id: trip_id }'), 'detour.yaml')).toThrow('pipelines.p.predict.table: no dataset or aggregate step named "nope" (tables: trips)');
  });
});
