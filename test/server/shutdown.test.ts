/**
 * `detour serve` as two processes on one port (PostgreSQL): keep-alive connections spread evenly
 * over them, SIGTERM while requests and a run it started are in flight (every request is answered,
 * the run finishes, then the processes exit 0), and a serving process that dies (another takes
 * its place).
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsLake } from '../../src/lake/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { call, startServe } from './serve-process.js';

const DAY = '2024-03-04';

/** A keep-alive connection to `port` that has had one request answered, so that the process it went to serves it. */
async function servedConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  const [answer] = (await once(socket, 'data')) as [Buffer];
  expect(answer.toString()).toMatch(/^HTTP\/1\.1 200 /);
  return socket;
}

/** The processes holding the server's end of each connection to `port`, by the client's port (from ss). */
function processesByClientPort(port: number): Map<number, string[]> {
  const lines = execFileSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return new Map(lines.map((line) => [Number(/:(\d+)\s+users:/.exec(line)?.[1]), [...line.matchAll(/pid=(\d+)/g)].map((match) => match[1])]));
}

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

  it('spreads keep-alive connections evenly: of four, each process serves two', async () => {
    const serve = await startServe(cwd, ['--no-schedules', '--processes', '2'], { DATABASE_URL: database.url });
    const port = Number(new URL(serve.url).port);
    const connections = await Promise.all(Array.from({ length: 4 }, () => servedConnection(port)));
    try {
      const holders = processesByClientPort(port);
      const served = new Map<string, number>();
      for (const connection of connections) {
        const [pid, ...others] = holders.get(connection.localPort ?? 0) ?? [];
        expect(others).toEqual([]);
        served.set(pid, (served.get(pid) ?? 0) + 1);
      }
      // The first process and the one it started.
      expect(served.size).toBe(2);
      expect(served.get(String(serve.process.pid))).toBe(2);
      expect([...served.values()]).toEqual([2, 2]);
    } finally {
      for (const connection of connections) connection.destroy();
      expect(await serve.stop()).toBe(0);
    }
  }, 120_000);

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
