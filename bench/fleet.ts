/**
 * Supervised models on synthetic rides with weather-like features (temperature °C, precipitation
 * mm, mileage): whether the vehicle requested service depends on mileage and rain, and on
 * temperature in a U shape (cold and heat both wear), plus noise.
 *
 * - `train=logistic`, `train=gbdt`: fitting on 1M rides, the most recent 20% held out, with the
 *   validation metrics a training step registers (`fitSupervised`); the timed work is all of it.
 *   `cpu_seconds` is the process's CPU time over it, which a busy machine inflates less than the wall time.
 * - `predict=logistic`, `predict=gbdt`: `predictProbabilities` on a batch of 10,000 rides given as
 *   JSON objects (checked against the features and ranges, as the API takes them), 50 batches one
 *   after another; `latency` is per batch, `cpu_ms_per_batch` the CPU time over all of them per batch.
 * - `train-run=logistic`: a training run of a pipeline over 10 days of 100k rides in silver
 *   (Parquet) on embedded PGlite: reading the window, fitting, registering.
 * - `predict-run=logistic`: a run of one landed day of 100k rides (Parquet) with that model in
 *   production: clean, quality, predict (gold Parquet + 100k rows UPSERTed), publish; `seconds_by_step` from the run.
 * - `landed=pglite`, `landed=postgres`: the built-in `fleet` pipeline as `detour serve` runs it: a
 *   day's CSV of 100k sample rides is landed (`detour ingest`), announced as `lake.landed` on NATS
 *   JetStream, and the landed consumer runs the pipeline for it (clean, quality, join with the
 *   day's weather into features, predict with the weekly model, publish): timed from the landing
 *   to the acknowledged event, predictions in the table. Weather cleaned and the model trained
 *   (a week of 2,000 rides a day) beforehand. `seconds_by_step` from the run.
 * - `http-predict=row`, `http-predict=batch`: `POST /v1/predict` against `detour serve` (see
 *   `http-load.ts`), a model trained on 10 days of 2,000 rides in production.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { openApp, openConfiguredBus, type App } from '../src/app/index.js';
import type { BusConsumer, EventBus } from '../src/bus/index.js';
import { parseConfigText, type DetourConfig } from '../src/config/index.js';
import { dateRange } from '../src/dates.js';
import { fitSupervised, holdOutLabelled, supervisedModel, type LabelledRows } from '../src/detectors/index.js';
import { openEngine } from '../src/engine/index.js';
import { FsLake } from '../src/lake/index.js';
import {
  announceLanded,
  consumeLanded,
  ingestFile,
  ingestPartitionedFile,
  landedEvents,
  predictProbabilities,
  runParamsOf,
  startRun,
  startTrainingRun,
  trainingParamsOf,
  type LandedOutcome,
  type LoadedSupervisedModel,
  type RunResult,
  type RunServices,
} from '../src/pipeline/index.js';
import { SeededRandom } from '../src/random.js';
import { generateFleetRidesCsv, readCityWeather, weatherCsvPath, writeSampleFleetFiles } from '../src/sample/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { httpLoadCase } from './http-load.js';
import type { BenchCase } from './main.js';
import { freshDatabase } from './services.js';

const FEATURES = ['temperature', 'precipitation', 'mileage'];
const RANGES = { temperature: { min: -60, max: 60 }, precipitation: { min: 0 }, mileage: { min: 0 } };
const BATCH_ROWS = 10_000;
const BATCHES = 50;

/** `count` rides in time order, seeded. */
function syntheticRides(count: number, seed: number): LabelledRows {
  const random = new SeededRandom(seed);
  const columns = FEATURES.map(() => new Float64Array(count));
  const [temperature, precipitation, mileage] = columns;
  const labels = new Uint8Array(count);
  for (let row = 0; row < count; row++) {
    temperature[row] = random.uniform(-15, 35);
    precipitation[row] = random.next() < 0.6 ? 0 : -Math.log(1 - random.next()) * 6;
    mileage[row] = random.uniform(0, 150);
    const logOdds = -3.2 + 0.02 * mileage[row] + 0.06 * precipitation[row] + 0.004 * (temperature[row] - 12) ** 2;
    labels[row] = random.next() < 1 / (1 + Math.exp(-logOdds)) ? 1 : 0;
  }
  return { features: FEATURES, columns, labels };
}

function training(modelName: string): BenchCase {
  return {
    rows: 1_000_000,
    label: `train=${modelName}`,
    prepare: () => {
      const model = supervisedModel(modelName);
      const { training: older, validation } = holdOutLabelled(syntheticRides(1_000_000, 7), 0.2);
      const params = model.params.parse({});
      return () => {
        const cpuBefore = process.cpuUsage();
        const fitted = fitSupervised(model, older, validation, params);
        const cpu = process.cpuUsage(cpuBefore);
        return { fitted, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
    },
    report: (result) => {
      const { fitted, cpuSeconds } = result as { fitted: ReturnType<typeof fitSupervised>; cpuSeconds: number };
      if ('skipped' in fitted) return { skipped: fitted.skipped };
      const { validation_auc: auc, validation_log_loss: logLoss } = fitted.metrics;
      return { cpu_seconds: Number(cpuSeconds.toFixed(3)), validation_auc: Number(auc.toFixed(4)), validation_log_loss: Number(logLoss.toFixed(4)) };
    },
  };
}

/** A model fitted on 200k rides, as predicting sees it once loaded from the registry. */
function loadedModel(modelName: string): LoadedSupervisedModel {
  const kind = supervisedModel(modelName);
  const artifact = kind.fit(syntheticRides(200_000, 3), kind.params.parse({}));
  const at = new Date();
  return {
    record: { name: `bench_${modelName}`, version: 1, detector: modelName, entity: null, params: {}, window: { from: '2024-01-01', to: '2024-03-31' }, inputs: [], detourVersion: 'bench', trainingRunId: 'bench', stage: 'production', metrics: null, artifact: null, createdAt: at, registeredAt: at, promotedAt: at, previousProduction: null },
    kind,
    model: kind.load(JSON.parse(JSON.stringify(artifact))),
    contract: { features: FEATURES, ranges: RANGES },
    facts: { label: 'service_requested', ranges: RANGES, calibration: [] },
    bytes: 0,
  };
}

function predicting(modelName: string): BenchCase {
  return {
    rows: BATCH_ROWS,
    label: `predict=${modelName}`,
    prepare: () => {
      const model = loadedModel(modelName);
      const rides = syntheticRides(BATCH_ROWS, 11);
      // A request body as parsed JSON: one object per ride.
      const batch = Array.from({ length: BATCH_ROWS }, (_, row) => Object.fromEntries(FEATURES.map((feature, k) => [feature, rides.columns[k][row]])));
      predictProbabilities(model, batch); // compiled before it is timed, as in a server that has served a request
      return () => {
        const milliseconds = new Float64Array(BATCHES);
        const cpuBefore = process.cpuUsage();
        for (let call = 0; call < BATCHES; call++) {
          const started = performance.now();
          predictProbabilities(model, batch);
          milliseconds[call] = performance.now() - started;
        }
        const cpu = process.cpuUsage(cpuBefore);
        return { milliseconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
    },
    report: (result) => {
      const { milliseconds, cpuSeconds } = result as { milliseconds: Float64Array; cpuSeconds: number };
      const sorted = milliseconds.slice().sort();
      const at = (quantile: number) => Number(sorted[Math.floor(quantile * (sorted.length - 1))].toFixed(2));
      return { batches: sorted.length, latency: { p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1) }, cpu_ms_per_batch: Number(((cpuSeconds * 1000) / BATCHES).toFixed(2)) };
    },
  };
}

export const RIDES_PER_DAY = 100_000;
const TRAINING_DAYS = dateRange('2024-04-01', '2024-04-10');
const PREDICTED_DAY = '2024-04-11';
export const PIPELINE_YAML = `
datasets:
  rides:
    columns:
      ride_id: { type: string }
      started_at: { type: timestamp }
      temperature: { type: number }
      precipitation: { type: number, min: 0 }
      mileage: { type: number, min: 0 }
      service_requested: { type: number, required: false }
    key: ride_id
pipelines:
  fleet_bench:
    dataset: rides
    train:
      - { model: fleet_bench_service, detector: logistic, table: rides, label: service_requested, time: started_at, features: [temperature, precipitation, mileage], ranges: { temperature: { min: -60, max: 60 } }, history: 10, promote: auto }
    predict: { model: fleet_bench_service, table: rides, id: ride_id }
`;

/** Lands a day of `count` synthetic rides as Parquet in bronze. */
export async function landDay(lake: FsLake, date: string, seed: number, count = RIDES_PER_DAY): Promise<void> {
  const rides = syntheticRides(count, seed);
  const engine = await openEngine();
  try {
    await engine.createTable('rides', [
      { name: 'ride_id', type: 'VARCHAR', values: Array.from({ length: count }, (_, row) => `${date}-${row}`) },
      ...FEATURES.map((feature, k) => ({ name: feature, type: 'DOUBLE' as const, values: rides.columns[k] })),
      { name: 'service_requested', type: 'INTEGER', values: rides.labels },
    ]);
    // Rides through the day, in row order.
    await engine.exportQuery(`SELECT ride_id, CAST($1 AS TIMESTAMP) + to_milliseconds(CAST(row_number() OVER () * $2 AS BIGINT)) AS started_at, * EXCLUDE (ride_id) FROM rides`, lake, `bronze/rides/date=${date}/rides.parquet`, 'parquet', [date, Math.floor(86_400_000 / count)]);
  } finally {
    await engine.close();
  }
}

/** A lake of 10 cleaned days and a landed 11th, an embedded store, and the app over them; optionally a model trained on the 10 days. */
async function fleetApp(withModel: boolean): Promise<{ app: App; services: RunServices }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-fleet-'));
  const lake = new FsLake(path.join(root, 'lake'));
  for (const [index, date] of [...TRAINING_DAYS, PREDICTED_DAY].entries()) await landDay(lake, date, 100 + index);
  const config = parseConfigText(PIPELINE_YAML, 'bench.yaml');
  const store = await openStore({ stateDir: path.join(root, 'state') });
  const app = await openApp({ config, lake, store });
  const services = await app.services({ concurrency: 2 });
  await startRun(services, 'fleet_bench', runParamsOf(config, 'fleet_bench'), TRAINING_DAYS);
  if (withModel) await startTrainingRun(services, 'fleet_bench', trainingParamsOf(config, 'fleet_bench'), TRAINING_DAYS.at(-1) as string);
  return { app, services };
}

function stepSeconds(result: RunResult): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const step of result.steps) totals[step.step] = Number(((totals[step.step] ?? 0) + (step.seconds ?? 0)).toFixed(3));
  return totals;
}

const pipelineCases: BenchCase[] = [
  {
    rows: TRAINING_DAYS.length * RIDES_PER_DAY,
    label: 'train-run=logistic',
    prepare: async () => {
      const { app, services } = await fleetApp(false);
      return async () => {
        try {
          return await startTrainingRun(services, 'fleet_bench', trainingParamsOf(app.config, 'fleet_bench'), TRAINING_DAYS.at(-1) as string);
        } finally {
          await app.close();
          await app.store.close();
        }
      };
    },
    report: (result) => {
      const [model] = (result as Awaited<ReturnType<typeof startTrainingRun>>).summary.models;
      return { seconds_by_step: stepSeconds(result as RunResult), trained: model.trained.map((trained) => `${trained.name} v${trained.version}`), validation_auc: Number(model.trained[0]?.metrics.validation_auc.toFixed(4)) };
    },
  },
  {
    rows: RIDES_PER_DAY,
    label: 'predict-run=logistic',
    prepare: async () => {
      const { app, services } = await fleetApp(true);
      return async () => {
        try {
          return await startRun(services, 'fleet_bench', runParamsOf(app.config, 'fleet_bench'), [PREDICTED_DAY]);
        } finally {
          await app.close();
          await app.store.close();
        }
      };
    },
    report: (result) => {
      const run = result as RunResult;
      const predictions = run.summaries[0]?.predictions;
      return { seconds_by_step: stepSeconds(run), predicted: predictions === undefined || 'skipped' in predictions ? 0 : predictions.rows };
    },
  },
];

const FLEET_TRAINING_DAYS = dateRange('2015-03-02', '2015-03-08');
const FLEET_LANDED_DAY = '2015-03-09';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** What the landed case times: land, announce, and the consumer's outcome for the event. */
interface LandedBench {
  land(): Promise<void>;
  outcome: Promise<LandedOutcome>;
  close(): Promise<void>;
}

/**
 * A lake with the weather cleaned and a week of fleet rides trained on, a store of `storeKind`, a
 * bus stream of its own with the landed consumer of `detour serve` on it, and the landed day's CSV.
 */
async function landedBench(storeKind: 'pglite' | 'postgres'): Promise<LandedBench> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-landed-'));
  const id = randomBytes(6).toString('hex');
  const config: DetourConfig = parseConfigText(`bus: { url: "${NATS_URL}", stream: BENCH_${id}, subjectPrefix: bench_${id} }\n`, 'bench.yaml');
  const lake = new FsLake(path.join(root, 'lake'));
  const database = storeKind === 'postgres' ? await freshDatabase() : undefined;
  const store: Store = await openStore({ databaseUrl: database?.url, stateDir: path.join(root, 'state') });
  const app = await openApp({ config, lake, store });
  const services = await app.services({ concurrency: 2 });
  await ingestPartitionedFile(lake, { dataset: 'weather', file: weatherCsvPath(), partitionBy: 'date' });
  await startRun(services, 'weather', runParamsOf(config, 'weather'), [...FLEET_TRAINING_DAYS, FLEET_LANDED_DAY]);
  const file = path.join(root, 'landed', 'fleet-rides.csv');
  const engine = await openEngine();
  try {
    await writeSampleFleetFiles(engine, path.join(root, 'rides'), { from: FLEET_TRAINING_DAYS[0], to: FLEET_TRAINING_DAYS.at(-1) as string, ridesPerDay: 2_000, seed: 5 }, async (logicalDate, dayFile) => {
      await ingestFile(lake, { dataset: 'fleet_rides', file: dayFile, logicalDate });
    });
    const weather = await readCityWeather(engine, 'New York', FLEET_LANDED_DAY, FLEET_LANDED_DAY);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, generateFleetRidesCsv(FLEET_LANDED_DAY, RIDES_PER_DAY, 5, weather.get(FLEET_LANDED_DAY)!));
  } finally {
    await engine.close();
  }
  await startRun(services, 'fleet', runParamsOf(config, 'fleet'), FLEET_TRAINING_DAYS);
  await startTrainingRun(services, 'fleet', trainingParamsOf(config, 'fleet'), FLEET_TRAINING_DAYS.at(-1) as string);
  const bus = (await openConfiguredBus(config)) as EventBus;
  let settle!: (outcome: LandedOutcome) => void;
  let fail!: (error: unknown) => void;
  const outcome = new Promise<LandedOutcome>((resolve, reject) => ((settle = resolve), (fail = reject)));
  const consumer: BusConsumer = await consumeLanded(services, config, bus, ['fleet'], { retryDelayMs: 1_000, onOutcome: (_, result) => settle(result), onFailure: (_, __, error) => fail(error) });
  return {
    land: async () => {
      const landed = await ingestFile(lake, { dataset: 'fleet_rides', file, logicalDate: FLEET_LANDED_DAY });
      await announceLanded(bus, landedEvents('fleet_rides', [{ logicalDate: FLEET_LANDED_DAY, ...landed }]));
    },
    outcome,
    close: async () => {
      await consumer.stop();
      await bus.close();
      // The stream was the case's alone.
      const connection = await connect({ servers: NATS_URL });
      await (await jetstreamManager(connection)).streams.delete(`BENCH_${id}`).finally(() => connection.close());
      await app.close();
      await store.close();
      await database?.drop();
    },
  };
}

function landedCase(storeKind: 'pglite' | 'postgres'): BenchCase {
  return {
    rows: RIDES_PER_DAY,
    label: `landed=${storeKind}`,
    prepare: async () => {
      const bench = await landedBench(storeKind);
      return async () => {
        try {
          await bench.land();
          return await bench.outcome;
        } finally {
          await bench.close();
        }
      };
    },
    report: (result) => {
      const outcome = result as LandedOutcome;
      if (outcome.status !== 'succeeded') return { outcome: outcome.status };
      const predictions = outcome.result.summaries[0]?.predictions;
      return { seconds_by_step: stepSeconds(outcome.result), predicted: predictions === undefined || 'skipped' in predictions ? 0 : predictions.rows };
    },
  };
}

/** Rides a day the served model is trained on: enough for a logistic fit, quick to land. */
const SERVED_RIDES_PER_DAY = 2_000;

/** Trains `fleet_bench_service` on 10 days of rides in `root`'s lake, registered in the database the server reads. */
async function trainServedModel(root: string, databaseUrl: string): Promise<void> {
  const lake = new FsLake(path.join(root, 'lake'));
  for (const [index, date] of TRAINING_DAYS.entries()) await landDay(lake, date, 100 + index, SERVED_RIDES_PER_DAY);
  const config = { ...parseConfigText(PIPELINE_YAML, 'bench.yaml'), databaseUrl };
  const app = await openApp({ config, lake, baseDir: root });
  try {
    const services = await app.services({ concurrency: 2 });
    await startRun(services, 'fleet_bench', runParamsOf(config, 'fleet_bench'), TRAINING_DAYS);
    const { summary } = await startTrainingRun(services, 'fleet_bench', trainingParamsOf(config, 'fleet_bench'), TRAINING_DAYS.at(-1) as string);
    if (summary.models[0].trained.length !== 1) throw new Error(`no model trained: ${JSON.stringify(summary.models[0].skipped)}`);
  } finally {
    await app.close();
  }
}

const servedConfigYaml = (lake: string) => `lake: ${lake}\napi: { rateLimit: { max: 100000000 } }\n${PIPELINE_YAML}`;

/** Rides as the API takes them: one object of features each. */
function requestRows(count: number): Record<string, number>[] {
  const rides = syntheticRides(count, 11);
  return Array.from({ length: count }, (_, row) => Object.fromEntries(FEATURES.map((feature, k) => [feature, Number(rides.columns[k][row].toFixed(2))])));
}

/**
 * `http-predict=row`: POST /v1/predict/fleet_bench_service with one ride's features, 4 connections
 * (throughput). `http-predict=batch`: 10,000 rides a request, one connection (a request's latency).
 */
const httpPredictCases: BenchCase[] = [
  httpLoadCase('http-predict=row', 1, servedConfigYaml, async (root, databaseUrl) => {
    await trainServedModel(root, databaseUrl);
    return { method: 'POST', path: '/v1/predict/fleet_bench_service', headers: { 'content-type': 'application/json' }, body: JSON.stringify(requestRows(1)[0]) };
  }),
  httpLoadCase('http-predict=batch', BATCH_ROWS, servedConfigYaml, async (root, databaseUrl) => {
    await trainServedModel(root, databaseUrl);
    return { method: 'POST', path: '/v1/predict/fleet_bench_service', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: requestRows(BATCH_ROWS) }), connections: 1 };
  }),
];

export const cases: readonly BenchCase[] = [training('logistic'), training('gbdt'), predicting('logistic'), predicting('gbdt'), ...pipelineCases, landedCase('pglite'), landedCase('postgres'), ...httpPredictCases];
