import { randomUUID } from 'node:crypto';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { dateRange } from '../../src/dates.js';
import { pipelineLayout, runParamsOf, startRun, type RunResult } from '../../src/pipeline/index.js';
import { BullmqQueue } from '../../src/queue/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type StepRecord, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { REDIS_URL, startWorker, type Worker } from '../helpers/workers.js';

const DATES = dateRange('2024-07-01', '2024-07-04');
/** A dead worker's step is handed over after about this long (production default: 30 s). */
const LOCK_SECONDS = 2;

/** The built-in rides pipeline, one date per clean/quality job so that a run spreads over workers. */
function configYaml(lakeDir: string, prefix: string): string {
  return `
lake: ${lakeDir}
queue: { prefix: ${prefix}, lockSeconds: ${LOCK_SECONDS} }
pipelines:
  rides:
    dataset: rides
    chunkDays: 1
    retry: { retries: 0 }
    detect:
      - detector: dbscan
        table: rides
        id: ride_id
        entity: taxi_id
        features:
          - { column: ride_dist_km, label: ride distance, unit: km, noun: distance }
          - { column: ride_time_min, label: ride time, unit: min, noun: duration }
        records: rides
        evaluate: { flag: is_injected_anomaly, kind: injected_kind }
    publish: { table: ride_anomalies, summary: ride_clusters }
`;
}

describe('distributed mode: three BullMQ workers on Redis, one killed mid-step', () => {
  const prefix = `detour-test-${randomUUID()}`;
  let database: TestDatabase;
  let root: string;
  let lake: FsLake;
  let store: Store;
  let queue: BullmqQueue;
  let config: DetourConfig;
  const workers: Worker[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-distributed-'));
    const configFile = path.join(root, 'detour.yaml');
    const yaml = configYaml(path.join(root, 'lake'), prefix);
    await writeFile(configFile, yaml);
    config = parseConfigText(yaml, configFile);
    lake = new FsLake(path.join(root, 'lake'));
    await writeSampleRides(lake, { from: DATES[0], to: DATES.at(-1) as string, ridesPerDay: 100_000, seed: 3, format: 'parquet' });
    store = await openStore({ databaseUrl: database.url, stateDir: root });
    queue = await BullmqQueue.connect({ url: REDIS_URL, prefix, lockDurationMs: LOCK_SECONDS * 1000, stalledIntervalMs: LOCK_SECONDS * 1000 });
    workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker(configFile, database.url)))));
  });
  afterAll(async () => {
    for (const worker of workers) worker.process.kill('SIGKILL');
    await queue?.obliterate();
    await queue?.close();
    await store?.close();
    await database?.drop();
  });

  it('hands a killed worker’s step to another worker and publishes every row exactly once, as one process would', async () => {
    const pids = new Set(workers.map((worker) => worker.process.pid));
    const running = startRun({ lake, store, queue, liveness: config.liveness }, 'rides', runParamsOf(config, 'rides'), DATES);

    // Kill the worker running a clean step as soon as one is seen running, mid-step.
    let killed: { step: StepRecord; pid: number } | undefined;
    const runId = async () => (await store.listRuns({ pipeline: 'rides', limit: 1 }))[0]?.id;
    while (killed === undefined) {
      const id = await runId();
      const step = id === undefined ? undefined : (await store.listSteps(id)).find((record) => record.status === 'running' && record.step === 'clean');
      const pid = Number(step?.worker?.split(':')[1]);
      if (step && pids.has(pid)) {
        process.kill(pid, 'SIGKILL');
        killed = { step, pid };
      } else {
        await sleep(10);
      }
    }
    const result: RunResult = await running;
    expect(result.run.status).toBe('succeeded');

    const steps = await store.listSteps(result.run.id);
    expect(steps.every((step) => step.status === 'succeeded' || step.status === 'skipped')).toBe(true);
    const takenOver = steps.find((step) => step.step === killed?.step.step && step.partition === killed.step.partition);
    expect(takenOver?.worker).not.toBe(killed.step.worker);
    const byWorker = new Set(steps.filter((step) => step.worker !== null).map((step) => step.worker));
    expect(byWorker.size).toBeGreaterThanOrEqual(2);

    // Survivors report what they did on /metrics.
    const survivors = workers.filter((worker) => worker.process.pid !== killed?.pid);
    const scraped = await Promise.all(survivors.map(async (worker) => (await fetch(worker.metricsUrl)).text()));
    const stepCount = (text: string, step: string) => Number(new RegExp(`^detour_step_duration_seconds_count\\{pipeline="rides",step="${step}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    expect(scraped.reduce((sum, text) => sum + stepCount(text, 'clean'), 0)).toBe(DATES.length);
    expect(scraped.reduce((sum, text) => sum + stepCount(text, 'publish'), 0)).toBe(1);
    expect(scraped.join('\n')).toMatch(/^detour_rows_processed_total\{pipeline="rides",step="clean"\} \d+/m);

    // The same pipeline in one process (embedded queue, PGlite) on a copy of the same input.
    for (const worker of workers) worker.process.kill('SIGTERM');
    await cp(path.join(root, 'lake', 'bronze'), path.join(root, 'reference-lake', 'bronze'), { recursive: true });
    const reference = new FsLake(path.join(root, 'reference-lake'));
    const referenceStore = await openStore({ stateDir: path.join(root, 'reference-state') });
    try {
      const single = await runPipeline(reference, referenceStore, config, 'rides', DATES);
      expect(result.summaries.map((summary) => summary.anomalies)).toEqual(single.summaries.map((summary) => summary.anomalies));
      for (const date of DATES) {
        const layout = pipelineLayout('rides', config.pipelines.rides, date);
        expect(await lake.get(layout.anomalies)).toEqual(await reference.get(layout.anomalies));
        expect(await lake.get(layout.silver)).toEqual(await reference.get(layout.silver));
        const rows = await store.listAnomalies('ride_anomalies', date);
        const ids = rows.map((row) => row.id);
        expect(new Set(ids).size).toBe(ids.length);
        const referenceRows = await referenceStore.listAnomalies('ride_anomalies', date);
        expect(rows.map(({ runId: _run, ...row }) => row)).toEqual(referenceRows.map(({ runId: _run, ...row }) => row));
      }
    } finally {
      await referenceStore.close();
    }
  }, 240_000);
});
