import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app/index.js';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineTables, rerunRun, runParamsOf, startRun, type RunServices } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { RESULTS_SCHEMA_VERSION, type PredictionMessage } from '../../src/sinks/index.js';
import { openStore } from '../../src/store/index.js';
import { fillWatchedPipeline, WATCHED, watchedPipelineConfig } from '../helpers/monitored.js';
import { deleteNatsStream, NATS_URL, readNatsMessages } from '../helpers/nats.js';
import { seedConfig } from '../helpers/pipeline.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const DAY = '2024-03-01';

/** The seed's rides pipeline (DBSCAN alone), publishing on the bus under `subjectPrefix`. */
function busConfig(options: { busUrl: string; stream: string; subjectPrefix: string; databaseUrl?: string; env?: string }): DetourConfig {
  const { rides } = seedConfig().pipelines;
  return DetourConfigSchema.parse({
    env: options.env,
    databaseUrl: options.databaseUrl,
    bus: { url: options.busUrl, stream: options.stream, subjectPrefix: options.subjectPrefix },
    pipelines: { rides: { ...rides, publish: { ...rides.publish, bus: { enabled: true, subjectPrefix: options.subjectPrefix } } } },
  });
}

describe('publish.bus: a run\'s anomalies, predictions and state changes on NATS JetStream', () => {
  const id = randomBytes(6).toString('hex');
  const stream = `RESULTS_${id}`;
  const subjectPrefix = `results_${id}`;
  let database: TestDatabase;
  let lake: FsLake;
  let app: App;
  let services: RunServices;

  beforeAll(async () => {
    database = await createTestDatabase();
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-results-bus-'));
    lake = new FsLake(path.join(root, 'lake'));
    await writeSampleRides(lake, { from: DAY, to: DAY, ridesPerDay: 3_000, seed: 7, format: 'parquet' });
    app = await openApp({ config: busConfig({ busUrl: NATS_URL, stream, subjectPrefix, databaseUrl: database.url }), baseDir: root, lake });
    services = await app.services();
  }, 120_000);
  afterAll(async () => {
    await app?.close();
    await deleteNatsStream(stream).catch(() => undefined);
    await database?.drop();
  });

  it('puts each anomaly on <prefix>.prod.rides.anomalies once, across a rerun, and each run\'s start and success on <prefix>.prod.runs', async () => {
    const first = await startRun(services, 'rides', runParamsOf(app.config, 'rides'), [DAY]);
    const second = await rerunRun(services, first.run.id);
    expect(second.run.status).toBe('succeeded');

    const stored = await app.store.listAnomalies('ride_anomalies', DAY);
    expect(stored.length).toBeGreaterThan(0);
    const anomalies = await readNatsMessages(stream, `${subjectPrefix}.prod.rides.anomalies`);
    const ids = anomalies.map(({ data }) => (data as { id: string }).id);
    expect(ids.length).toBe(new Set(ids).size);
    expect(new Set(ids)).toEqual(new Set(stored.map((row) => row.id)));
    expect(anomalies[0].data).toMatchObject({ schemaVersion: RESULTS_SCHEMA_VERSION, env: 'prod', pipeline: 'rides', logical_date: DAY, run_id: first.run.id });

    const runs = (await readNatsMessages(stream, `${subjectPrefix}.prod.runs`)).map(({ data }) => data as { run_id: string; event: string; anomalies?: number });
    expect(runs.map(({ run_id, event }) => `${run_id} ${event}`)).toEqual([
      `${first.run.id} runs.started`,
      `${first.run.id} runs.succeeded`,
      `${second.run.id} runs.started`,
      `${second.run.id} runs.succeeded`,
    ]);
    expect(runs[1].anomalies).toBe(stored.length);
  }, 120_000);

  it('publishes a prediction again (a rerun\'s) without a second message', async () => {
    const sink = app.resultsSink(subjectPrefix);
    if (sink === undefined) throw new Error('the app has a bus');
    const predictions: PredictionMessage[] = ['r1', 'r2', 'r3'].map((rowId, index) => ({
      schemaVersion: RESULTS_SCHEMA_VERSION,
      env: 'prod',
      pipeline: 'fleet',
      run_id: 'run-a',
      logical_date: DAY,
      id: rowId,
      probability: index / 4,
      model: { name: 'fleet_service', version: 1 },
      features: { temp_c: 20 + index },
    }));
    expect(await sink.publishFindings({ anomalies: [], predictions })).toEqual({ published: 3, duplicates: 0 });
    expect(await sink.publishFindings({ anomalies: [], predictions: predictions.map((prediction) => ({ ...prediction, run_id: 'run-b' })) })).toEqual({ published: 0, duplicates: 3 });
    const received = await readNatsMessages(stream, `${subjectPrefix}.prod.fleet.predictions`);
    expect(received.map(({ data }) => (data as PredictionMessage).id)).toEqual(['r1', 'r2', 'r3']);
  });

  it('a failed run says so on <prefix>.prod.runs', async () => {
    const failed = await startRun(services, 'rides', runParamsOf(app.config, 'rides'), ['2024-03-05']).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(Error);
    const [run] = await app.store.listRuns({ pipeline: 'rides', status: 'failed' });
    const events = (await readNatsMessages(stream, `${subjectPrefix}.prod.runs`)).map(({ data }) => data as { run_id: string; event: string; error?: string }).filter((event) => event.run_id === run.id);
    expect(events.map((event) => event.event)).toEqual(['runs.started', 'runs.failed']);
    expect(events[1].error).toBe(run.error);
  }, 60_000);
});

describe('publish.bus: a supervised pipeline\'s predictions on NATS JetStream', () => {
  const id = randomBytes(6).toString('hex');
  const stream = `PREDICTIONS_${id}`;
  const subjectPrefix = `predictions_${id}`;
  let app: App;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-predictions-bus-'));
    const watched = watchedPipelineConfig();
    const config = DetourConfigSchema.parse({
      bus: { url: NATS_URL, stream, subjectPrefix },
      pipelines: { [WATCHED.pipeline]: { ...watched, publish: { ...(watched.publish as object), bus: { enabled: true, subjectPrefix } } } },
    });
    app = await openApp({ config, lake: new FsLake(path.join(root, 'lake')), store: await openStore({ stateDir: path.join(root, 'state') }) });
    await fillWatchedPipeline(app.lake, await app.services({ concurrency: 2 }), config);
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await app?.store.close();
    await deleteNatsStream(stream).catch(() => undefined);
  });

  it('puts each prediction on <prefix>.prod.<pipeline>.predictions once, across a rerun, with the schema and model versions', async () => {
    const last = WATCHED.predicted.at(-1) as string;
    const [first] = (await app.store.listRuns({ pipeline: WATCHED.pipeline, status: 'succeeded', from: last, to: last })).filter((run) => run.logicalDate === last && run.endDate === last);
    const rerun = await rerunRun(await app.services(), first.id);
    expect(rerun.run.status).toBe('succeeded');

    const { predictionsTable } = pipelineTables(WATCHED.pipeline, app.config.pipelines[WATCHED.pipeline]);
    const stored: string[] = [];
    for (const date of WATCHED.predicted) stored.push(...(await app.store.listPredictions(predictionsTable, date)).map((row) => `${date} ${row.id}`));
    expect(stored.length).toBe(WATCHED.predicted.length * 150);

    const messages = (await readNatsMessages(stream, `${subjectPrefix}.prod.${WATCHED.pipeline}.predictions`)).map(({ data }) => data as PredictionMessage);
    const received = messages.map((message) => `${message.logical_date} ${message.id}`);
    expect(received.length).toBe(new Set(received).size);
    expect(new Set(received)).toEqual(new Set(stored));
    for (const message of messages) expect(message).toMatchObject({ schemaVersion: RESULTS_SCHEMA_VERSION, env: 'prod', pipeline: WATCHED.pipeline, model: { name: WATCHED.model, version: 1 } });
    // The rerun's messages were dropped as duplicates: the rerun day's are the first run's.
    expect(new Set(messages.filter((message) => message.logical_date === last).map((message) => message.run_id))).toEqual(new Set([first.id]));
  }, 120_000);
});

describe('publish.bus with the bus unreachable', () => {
  it('retries, logs and leaves the run succeeded', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-results-down-'));
    const lake = new FsLake(path.join(root, 'lake'));
    await writeSampleRides(lake, { from: DAY, to: DAY, ridesPerDay: 1_000, seed: 7, format: 'parquet' });
    // Port 1: nothing listens, every connection is refused at once.
    const app = await openApp({ config: busConfig({ busUrl: 'nats://127.0.0.1:1', stream: 'UNUSED', subjectPrefix: 'unused' }), baseDir: root, lake });
    try {
      const result = await startRun(await app.services(), 'rides', runParamsOf(app.config, 'rides'), [DAY]);
      expect(result.run.status).toBe('succeeded');
    } finally {
      await app.close();
    }
  }, 120_000);
});
