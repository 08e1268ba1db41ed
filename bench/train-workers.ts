/**
 * Training 20 sensors' Isolation Forests (14 days of 5-minute readings each, 1500 trees) as one
 * training run in 10 entity shards on BullMQ, with one and then two `detour worker` processes
 * (concurrency 1 each) on the local PostgreSQL and Redis. `seconds` covers both; the line reports
 * each and the speedup of two workers over one.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { parseConfigText } from '../src/config/index.js';
import { FsLake } from '../src/lake/index.js';
import { startTrainingRun, trainingParamsOf, type TrainingResult } from '../src/pipeline/index.js';
import { openStore } from '../src/store/index.js';
import type { BenchCase } from './main.js';
import { sensorConfig, writeSensorSilver } from './sensor-lake.js';
import { closeDistributed, freshDatabase, REDIS_URL, startWorker } from './services.js';

const SENSORS = 20;
const LAKE = { sensors: SENSORS, from: '2024-01-01', to: '2024-01-14', stepMinutes: 5 };
const ROWS_PER_SENSOR = 14 * (1440 / LAKE.stepMinutes);
const LAKE_DIR = path.join(os.tmpdir(), 'detour-bench-train-lake');

/** One training run on a fresh registry with `workers` worker processes; its wall time in seconds. */
async function trainWith(workers: number): Promise<{ seconds: number; result: TrainingResult }> {
  const database = await freshDatabase();
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-train-'));
  const yaml = sensorConfig({ lake: LAKE_DIR, prefix: `detour-bench-${randomUUID()}`, history: 14, partitions: 10, trees: 1500, maxSamples: 256 });
  const configFile = path.join(root, 'detour.yaml');
  await writeFile(configFile, yaml);
  const config = parseConfigText(yaml, configFile);
  const store = await openStore({ databaseUrl: database.url, stateDir: root });
  const app = await openApp({ config: { ...config, queue: { ...config.queue, url: REDIS_URL } }, lake: new FsLake(LAKE_DIR), store });
  const children = await Promise.all(Array.from({ length: workers }, () => startWorker(configFile, database.url)));
  try {
    const started = performance.now();
    const result = await startTrainingRun(await app.services(), 'sensors', trainingParamsOf(config, 'sensors'), LAKE.to);
    const seconds = (performance.now() - started) / 1000;
    if (result.summary.models[0].trained.length !== SENSORS) throw new Error(`trained ${result.summary.models[0].trained.length} of ${SENSORS} sensors`);
    return { seconds, result };
  } finally {
    await closeDistributed({ workers: children, app, store, database });
  }
}

const trainWorkers: BenchCase = {
  rows: SENSORS * ROWS_PER_SENSOR,
  label: 'sensors=20 workers=1 vs 2',
  prepare: async () => {
    const marker = path.join(LAKE_DIR, `.complete-${SENSORS}x${ROWS_PER_SENSOR}`);
    if (!existsSync(marker)) {
      await writeSensorSilver(new FsLake(LAKE_DIR), LAKE);
      await mkdir(LAKE_DIR, { recursive: true });
      await writeFile(marker, '');
    }
    return async () => {
      const one = await trainWith(1);
      const two = await trainWith(2);
      // How many worker processes the second run's shards were spread over.
      const workers = new Set(two.result.steps.map((step) => step.worker)).size;
      return { one: one.seconds, two: two.seconds, workers };
    };
  },
  report: (value) => {
    const { one, two, workers } = value as { one: number; two: number; workers: number };
    return { seconds_1_worker: Number(one.toFixed(3)), seconds_2_workers: Number(two.toFixed(3)), speedup: Number((one / two).toFixed(2)), workers_used: workers, load_average: Number(os.loadavg()[0].toFixed(1)) };
  },
};

export const cases: readonly BenchCase[] = [trainWorkers];
