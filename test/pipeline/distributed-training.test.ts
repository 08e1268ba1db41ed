import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app/index.js';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { startTrainingRun, trainingParamsOf, type TrainingResult } from '../../src/pipeline/index.js';
import { shardEntities } from '../../src/pipeline/entity-rows.js';
import { BullmqQueue } from '../../src/queue/index.js';
import { openStore, type StepRecord, type Store } from '../../src/store/index.js';
import { sensorConfig, sensorIds, writeSensorSilver } from '../../bench/sensor-lake.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { REDIS_URL, startWorker, type Worker } from '../helpers/workers.js';

const SENSORS = 12;
const SHARDS = 2;
/** A dead worker's step is handed over after about this long (production default: 30 s). */
const LOCK_SECONDS = 2;

describe('distributed training: workers share the entity shards, one killed mid-shard', () => {
  const prefix = `detour-test-${randomUUID()}`;
  let database: TestDatabase;
  let lake: FsLake;
  let store: Store;
  let app: App;
  let config: DetourConfig;
  const workers: Worker[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-distributed-training-'));
    lake = new FsLake(path.join(root, 'lake'));
    await writeSensorSilver(lake, { sensors: SENSORS, from: '2024-01-01', to: '2024-01-14', stepMinutes: 5 });
    const yaml = sensorConfig({ lake: path.join(root, 'lake'), prefix, lockSeconds: LOCK_SECONDS, history: 14, partitions: SHARDS, trees: 400, maxSamples: 256 });
    const configFile = path.join(root, 'detour.yaml');
    await writeFile(configFile, yaml);
    config = parseConfigText(yaml, configFile);
    store = await openStore({ databaseUrl: database.url, stateDir: root });
    app = await openApp({ config: { ...config, queue: { ...config.queue, url: REDIS_URL } }, lake, store });
    workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker(configFile, database.url)))));
  }, 120_000);
  afterAll(async () => {
    for (const worker of workers) worker.process.kill('SIGKILL');
    if (app?.queue instanceof BullmqQueue) await app.queue.obliterate();
    await app?.close();
    await store?.close();
    await database?.drop();
  });

  it('retrains the killed worker’s shard elsewhere and ends with exactly one new version per entity', async () => {
    const pids = new Set(workers.map((worker) => worker.process.pid));
    const running = startTrainingRun(await app.services(), 'sensors', trainingParamsOf(config, 'sensors'), '2024-01-14');

    // Kill the worker of a shard as soon as it has registered some of its entities but not all.
    let killed: { step: StepRecord; pid: number; registered: number } | undefined;
    while (killed === undefined) {
      const [run] = await store.listRuns({ pipeline: 'sensors', limit: 1 });
      if (run !== undefined) {
        const registered = new Set((await store.listModels({ name: 'sensor_iforest', trainingRunId: run.id })).map((model) => model.entity));
        for (const step of await store.listSteps(run.id)) {
          const pid = Number(step.worker?.split(':')[1]);
          const spec = step.spec as { shard: number };
          const mine = [...shardEntities(sensorIds(SENSORS), { shard: spec.shard, shards: SHARDS })];
          const done = mine.filter((sensor) => registered.has(sensor)).length;
          if (step.status === 'running' && pids.has(pid) && done > 0 && done < mine.length) {
            process.kill(pid, 'SIGKILL');
            killed = { step, pid, registered: done };
            break;
          }
        }
      }
      if (killed === undefined) await sleep(20);
    }
    const result: TrainingResult = await running;
    expect(result.run.status).toBe('succeeded');
    const retrained = result.steps.find((step) => step.partition === killed?.step.partition);
    expect(retrained?.status).toBe('succeeded');
    expect(retrained?.worker).not.toBe(killed.step.worker);

    // One version per entity: the entities the killed worker registered were not trained again.
    const versions = await store.listModels({ name: 'sensor_iforest' });
    expect(versions.map((model) => `${model.name}@${model.version} ${model.stage}`)).toEqual(sensorIds(SENSORS).map((sensor) => `sensor_iforest/${sensor}@1 production`));
    expect(new Set(versions.map((model) => model.trainingRunId))).toEqual(new Set([result.run.id]));
    expect(result.summary.models[0].trained.map((model) => model.entity)).toEqual(sensorIds(SENSORS));
    expect(result.summary.models[0].skipped).toEqual([]);
    for (const model of versions) {
      expect(await lake.exists(model.artifact?.key as string)).toBe(true);
      expect(await store.listModelStages(model.name)).toHaveLength(2); // registered, promoted: once each
    }
  }, 240_000);
});
