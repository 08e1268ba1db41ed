import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { backfill, pipelineLayout, rerunRun, resumeRun, runParamsOf, startRun, type RunServices, type StepEvent } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { FlakyLake } from '../helpers/flaky-lake.js';
import { embeddedServices } from '../helpers/pipeline.js';

const [D1, D2, D3] = ['2024-05-01', '2024-05-02', '2024-05-03'];

/** The built-in rides pipeline with quick retries, so that failures are fast to test. */
function ridesConfig(overrides: Partial<DetourConfig['pipelines']['rides']> = {}): DetourConfig {
  const config = DetourConfigSchema.parse({});
  config.pipelines.rides = { ...config.pipelines.rides, retry: { retries: 2, initialDelayMs: 10, maxDelayMs: 40, timeoutSeconds: 30, steps: {} }, ...overrides };
  return config;
}

describe('orchestration in embedded mode: retries, timeouts, resume, rerun, backfill, alerts', () => {
  let fsLake: FsLake;
  let lake: FlakyLake;
  let store: Store;
  let services: RunServices;
  const params = (config = ridesConfig()) => runParamsOf(config, 'rides');

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-orchestration-'));
    fsLake = new FsLake(path.join(root, 'lake'));
    lake = new FlakyLake(fsLake);
    store = await openStore({ stateDir: path.join(root, 'state') });
    services = await embeddedServices(lake, store);
    await writeSampleRides(fsLake, { from: D1, to: D3, ridesPerDay: 4_000, seed: 11, format: 'parquet' });
  });
  afterAll(async () => {
    await services.queue.close();
    await store.close();
  });

  it('retries a step that fails transiently, with its attempts recorded', async () => {
    lake.failWrites(/^silver\/rides\/date=2024-05-01\//, 2);
    const result = await startRun(services, 'rides', params(), [D1]);
    expect(result.run.status).toBe('succeeded');
    const clean = result.steps.find((step) => step.step === 'clean');
    expect(clean).toMatchObject({ status: 'succeeded', attempts: 3, error: null });
    expect(result.steps.map((step) => [step.step, step.status])).toEqual([
      ['clean', 'succeeded'],
      ['quality', 'succeeded'],
      ['aggregate', 'skipped'],
      ['detect', 'succeeded'],
      ['detect', 'succeeded'],
      ['detect', 'succeeded'],
      ['publish', 'succeeded'],
    ]);
    for (const step of result.steps.filter((record) => record.status === 'succeeded')) expect(step.seconds).toBeGreaterThanOrEqual(0);
  });

  let failedRunId: string;

  it('fails the run with the step error once retries are exhausted, writing no anomalies.json or summary', async () => {
    const layout = pipelineLayout('rides', params().pipeline, D2);
    lake.failWrites(/^gold\/ride_anomalies\/date=2024-05-02\//, 3);
    const failure = startRun(services, 'rides', params(), [D2]);
    await expect(failure).rejects.toThrow(/simulated outage writing gold\/ride_anomalies\/date=2024-05-02\//);
    const [run] = await store.listRuns({ pipeline: 'rides', limit: 1 });
    failedRunId = run.id;
    expect(run).toMatchObject({ status: 'failed', logicalDate: D2 });
    expect(run.error).toMatch(/simulated outage/);
    const steps = await store.listSteps(run.id);
    expect(steps.find((step) => step.step === 'publish')).toMatchObject({ status: 'failed', attempts: 3 });
    expect(steps.filter((step) => step.step !== 'publish').every((step) => step.status === 'succeeded' || step.status === 'skipped')).toBe(true);
    expect(await fsLake.exists(layout.anomalies)).toBe(false);
    expect(await fsLake.exists(layout.summary)).toBe(false);
  });

  it('resumes the failed run from its failed step, reusing the steps that succeeded', async () => {
    const before = await store.listSteps(failedRunId);
    const result = await resumeRun(services, failedRunId.slice(0, 20));
    expect(result.run).toMatchObject({ id: failedRunId, status: 'succeeded', error: null });
    const after = result.steps;
    for (const name of ['clean', 'quality', 'detect']) {
      const [earlier, later] = [before, after].map((steps) => steps.find((step) => step.step === name));
      expect(later?.finishedAt).toEqual(earlier?.finishedAt);
      expect(later?.attempts).toBe(1);
    }
    expect(after.find((step) => step.step === 'publish')).toMatchObject({ status: 'succeeded', attempts: 1 });
    // The resumed run's outputs are those of a fresh run of the same day.
    const resumedAnomalies = await fsLake.get(pipelineLayout('rides', params().pipeline, D2).anomalies);
    const fresh = await startRun(services, 'rides', params(), [D2]);
    expect(await fsLake.get(pipelineLayout('rides', params().pipeline, D2).anomalies)).toEqual(resumedAnomalies);
    expect(fresh.summaries[0].anomalies).toBe(result.summaries[0].anomalies);
    await expect(resumeRun(services, failedRunId)).rejects.toThrow(/only a failed run can be resumed/);
  });

  it("starts a span's quality once that span is clean, while other spans' cleans still run; detect waits for every span", async () => {
    const events: StepEvent[] = [];
    const chained = await embeddedServices(lake, store, { concurrency: 2, onStep: (event) => events.push(event) });
    try {
      // A day a span, the third day's silver write held back: the first two days go on meanwhile.
      lake.stallWrites(/^silver\/rides\/date=2024-05-03\//, 1, 1_500);
      const result = await startRun(chained, 'rides', params(ridesConfig({ chunkDays: 1 })), [D1, D2, D3]);
      expect(result.run.status).toBe('succeeded');
      const settledAt = (step: string, partition: string) => events.findIndex((event) => event.step === step && event.partition === partition && event.status === 'succeeded');
      expect(settledAt('quality', D1)).toBeGreaterThanOrEqual(0);
      expect(settledAt('quality', D1)).toBeLessThan(settledAt('clean', D3));
      expect(settledAt('quality', D2)).toBeLessThan(settledAt('clean', D3));
      const firstDetect = events.findIndex((event) => event.step === 'detect');
      expect(firstDetect).toBeGreaterThan(settledAt('quality', D3));
    } finally {
      await chained.queue.close();
    }
  });

  it('times out a hung step attempt and retries it, with the step’s own timeout', async () => {
    lake.stallWrites(/^runs\/rides\/.*\/detect\//, 1, 2_000);
    const config = ridesConfig({ retry: { retries: 0, initialDelayMs: 10, maxDelayMs: 10, timeoutSeconds: 30, steps: { detect: { retries: 1, timeoutSeconds: 0.5 } } } });
    const result = await startRun(services, 'rides', params(config), [D3]);
    const detects = result.steps.filter((step) => step.step === 'detect');
    expect(detects.every((step) => step.status === 'succeeded')).toBe(true);
    // The first findings written stalled: that partition's first attempt timed out.
    expect(detects.map((step) => step.attempts).sort()).toEqual([1, 1, 2]);
  });

  it('reruns a run byte for byte from its recorded inputs, and refuses when an input changed', async () => {
    const original = await startRun(services, 'rides', params(), [D2]);
    const layout = pipelineLayout('rides', params().pipeline, D2);
    const outputs = async () => Promise.all([layout.anomalies, layout.silver].map((key) => fsLake.get(key)));
    const before = await outputs();
    expect(original.summaries[0].input.files).toEqual([{ key: `bronze/rides/date=${D2}/rides.parquet`, size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);

    // Even under a changed configuration, a rerun uses the parameters the run recorded.
    const rerun = await rerunRun(services, original.run.id);
    expect(rerun.run.params).toMatchObject({ rerun_of: original.run.id, pipeline: original.run.params.pipeline });
    expect(rerun.run.id).not.toBe(original.run.id);
    expect(await outputs()).toEqual(before);

    await fsLake.put(`bronze/rides/date=${D2}/late.csv`, 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min\nL1,T1,2024-05-02 10:00:00,2024-05-02 10:20:00,5,20\n');
    const refused = rerunRun(services, original.run.id);
    await expect(refused).rejects.toBeInstanceOf(InputError);
    await expect(refused).rejects.toThrow(`inputs of run ${original.run.id} changed since: bronze/rides/date=${D2}/late.csv (added); rerun with --allow-changed-inputs to accept them`);
    const accepted = await rerunRun(services, original.run.id, { allowChangedInputs: true });
    expect(accepted.summaries[0].rows_read).toBe(original.summaries[0].rows_read + 1);
    await fsLake.delete(`bronze/rides/date=${D2}/late.csv`);
  });

  it('backfills a range a date per run, skipping dates already succeeded unless forced', async () => {
    const seen: string[] = [];
    const first = await backfill(services, 'rides', params(), '2024-04-30', D3, { parallel: 2, onDate: (date, outcome) => seen.push(`${date}:${outcome.status}`) });
    expect(first.skipped).toEqual([D1, D2, D3]);
    expect(first.failed).toEqual([{ date: '2024-04-30', error: expect.stringMatching(/^no input: bronze\/rides\/date=2024-04-30\//) }]);
    expect(seen.sort()).toEqual(['2024-04-30:failed', `${D1}:skipped`, `${D2}:skipped`, `${D3}:skipped`]);
    const forced = await backfill(services, 'rides', params(), D1, D3, { parallel: 2, force: true });
    expect(forced.succeeded.map((result) => result.run.logicalDate)).toEqual([D1, D2, D3]);
    expect(forced.skipped).toEqual([]);
  });

  describe('webhook alerts', () => {
    let server: Server;
    let url: string;
    const received: { text: string; blocks: unknown[] }[] = [];

    beforeAll(async () => {
      server = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          received.push(JSON.parse(body) as { text: string; blocks: unknown[] });
          response.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/secret`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('posts a Slack-compatible message when a run finds more anomalies than its threshold, and when a run fails', async () => {
      const base = ridesConfig().pipelines.rides;
      const config = ridesConfig({ publish: { ...base.publish, webhook: url, anomalyThreshold: 5 } });
      const result = await startRun(services, 'rides', params(config), [D1]);
      expect(result.run.outliers).toBeGreaterThan(5);
      expect(received).toHaveLength(1);
      expect(received[0].text).toContain(`detour rides ${D1}: ${result.run.outliers} anomalies (threshold 5)`);
      expect(received[0].blocks.length).toBeGreaterThan(0);

      await expect(startRun(services, 'rides', params(config), ['2024-04-29'])).rejects.toThrow(/no input/);
      expect(received).toHaveLength(2);
      expect(received[1].text).toMatch(/detour run failed: rides 2024-04-29 \(run \S+\): no input: bronze\/rides\/date=2024-04-29\//);
    });
  });
});
