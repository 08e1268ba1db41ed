/**
 * Backfill of 30 days × 100k sample rides through the rides pipeline (one run per day, two in
 * flight), on the local PostgreSQL run store: embedded (in-process queue, one executor), then
 * BullMQ on Redis with one and with two `detour worker` processes (concurrency 1 each). Seconds are the coordinator's wall time; peak_mb is the
 * coordinator's own (workers are separate processes).
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { parseConfigText } from '../src/config/index.js';
import { FsLake } from '../src/lake/index.js';
import { backfill, runParamsOf, type BackfillResult } from '../src/pipeline/index.js';
import { writeSampleRides } from '../src/sample/index.js';
import { openStore } from '../src/store/index.js';
import type { BenchCase } from './main.js';
import { closeDistributed, freshDatabase, REDIS_URL, startWorker } from './services.js';

const FROM = '2024-01-01';
const TO = '2024-01-30';
const RIDES_PER_DAY = 100_000;
const DAYS = 30;
/** Runs in flight: the executors (one embedded, or the workers) always have a next step queued. */
const PARALLEL = 2;
/** Sample rides are written once and reused by every case (and later bench runs). */
const LAKE_DIR = path.join(os.tmpdir(), 'detour-bench-backfill-lake');

async function sampleLake(): Promise<FsLake> {
  const lake = new FsLake(LAKE_DIR);
  const marker = path.join(LAKE_DIR, `.complete-${DAYS}x${RIDES_PER_DAY}`);
  if (!existsSync(marker)) {
    await writeSampleRides(lake, { from: FROM, to: TO, ridesPerDay: RIDES_PER_DAY, seed: 42, format: 'parquet' });
    await mkdir(LAKE_DIR, { recursive: true });
    await writeFile(marker, '');
  }
  return lake;
}

/** Embedded when `workers` is 0, else that many worker processes on a BullMQ queue. */
function backfillCase(workers: number): BenchCase {
  return {
    rows: DAYS * RIDES_PER_DAY,
    label: workers === 0 ? 'embedded' : `bullmq workers=${workers}`,
    prepare: async () => {
      const lake = await sampleLake();
      const database = await freshDatabase();
      const databaseUrl = database.url;
      const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-backfill-'));
      const prefix = `detour-bench-${randomUUID()}`;
      const yaml = `lake: ${LAKE_DIR}\nqueue: { prefix: ${prefix} }\n`;
      const configFile = path.join(root, 'detour.yaml');
      await writeFile(configFile, yaml);
      const config = parseConfigText(yaml, configFile);
      const store = await openStore({ databaseUrl, stateDir: root });
      // Embedded: this process executes the steps. BullMQ: the worker processes do.
      const app = await openApp({ config: { ...config, queue: { ...config.queue, url: workers === 0 ? undefined : REDIS_URL } }, lake, store });
      const services = await app.services();
      const children: ChildProcess[] = await Promise.all(Array.from({ length: workers }, () => startWorker(configFile, databaseUrl)));
      return async () => {
        try {
          const result = await backfill(services, 'rides', runParamsOf(config, 'rides'), FROM, TO, { parallel: PARALLEL, force: true });
          if (result.failed.length > 0) throw new Error(`backfill failed: ${JSON.stringify(result.failed[0])}`);
          return result;
        } finally {
          await closeDistributed({ workers: children, app, store, database });
        }
      };
    },
    report: (value) => {
      const result = value as BackfillResult;
      return { days: result.succeeded.length, anomalies: result.succeeded.reduce((sum, run) => sum + (run.run.outliers ?? 0), 0) };
    },
  };
}

export const cases: readonly BenchCase[] = [backfillCase(0), backfillCase(1), backfillCase(2)];
