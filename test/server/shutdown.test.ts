/**
 * `detour serve` as two processes on one port (PostgreSQL): SIGTERM while requests and a run it
 * started are in flight (every request is answered, the run finishes, then the processes exit 0),
 * and a serving process that dies (another takes its place).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsLake } from '../../src/lake/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { call, startServe } from './serve-process.js';

const DAY = '2024-03-04';

describe('detour serve on two processes', () => {
  let cwd: string;
  let database: TestDatabase;

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-api-sigterm-'));
    database = await createTestDatabase();
    await writeSampleRides(new FsLake(path.join(cwd, 'lake')), { from: DAY, to: DAY, ridesPerDay: 5_000, seed: 4, format: 'parquet' });
  }, 60_000);

  afterAll(async () => {
    await database?.drop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('answers the requests in flight and finishes the run it started before exiting', async () => {
    const serve = await startServe(cwd, ['--no-schedules', '--processes', '2'], { DATABASE_URL: database.url });
    const series = Array.from({ length: 1_000 }, (_, minute) => ({ timestamp: new Date(Date.UTC(2024, 0, 1) + minute * 60_000).toISOString(), value: 100 + 30 * Math.sin(minute / 50) + ((minute * 7919) % 13) }));
    // ARIMA's grid search over 1,000 points takes a while: these are still running when SIGTERM comes.
    const detections = Array.from({ length: 4 }, () =>
      call(`${serve.url}/v1/detect`, { json: { detector: 'arima', series, params: { search: 'grid', maxD: 0, maxP: 2, maxQ: 2 } } }).then(async (answer) => ({ status: answer.status, body: (await answer.json()) as unknown })),
    );
    const accepted = await call(`${serve.url}/v1/runs`, { json: { pipeline: 'rides', date: DAY } });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    expect((await call(`${serve.url}/healthz`)).status).toBe(200);

    const exitCode = serve.stop();
    const answers = await Promise.all(detections);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    for (const answer of answers) expect(answer.body).toMatchObject({ anomalies: expect.any(Array), model: null });
    expect(await exitCode).toBe(0);
    expect(serve.output().stdout).toMatch(/^SIGTERM: stopping$/m);
    expect(serve.output().stderr).toBe('');
    await expect(call(`${serve.url}/healthz`)).rejects.toThrow();

    const store = await openStore({ databaseUrl: database.url, stateDir: cwd });
    try {
      expect(await store.getRun(id)).toMatchObject({ status: 'succeeded', rowsRead: 5_000 });
    } finally {
      await store.close();
    }
  }, 180_000);

  it('starts another process when one dies, and keeps serving', async () => {
    const serve = await startServe(cwd, ['--no-schedules', '--processes', '2'], { DATABASE_URL: database.url });
    try {
      const [started] = execFileSync('ps', ['-o', 'pid=', '--ppid', String(serve.process.pid)], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
      process.kill(Number(started), 'SIGKILL');
      while (!serve.output().stderr.includes('started another')) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(serve.output().stderr).toBe('detour: API process 2 exited (SIGKILL); started another\n');
      for (let request = 0; request < 10; request++) expect((await call(`${serve.url}/v1/runs`)).status).toBe(200);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  }, 120_000);

  it('leaves no process serving alone when the first one is killed', async () => {
    const serve = await startServe(cwd, ['--no-schedules', '--processes', '2'], { DATABASE_URL: database.url });
    const [started] = execFileSync('ps', ['-o', 'pid=', '--ppid', String(serve.process.pid)], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    serve.process.kill('SIGKILL');
    await serve.stop();
    // The other process notices its channel to the first closed, finishes and exits.
    const alive = (pid: number) => {
      try {
        return process.kill(pid, 0);
      } catch {
        return false;
      }
    };
    while (alive(Number(started))) await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(call(`${serve.url}/healthz`)).rejects.toThrow();
  }, 120_000);
});
