import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { detour, infrastructureFailure, startDetour, waitingLines, type DetourProcess } from './detour-process.js';
import { OwnRedis } from './own-services.js';
import { copyOfInputs, expectOutputsAsUndisturbed, removeFolders, sampleRidesFolder, undisturbedOutputs, type PublishedOutputs } from './outputs.js';

const DATES = dateRange('2024-08-01', '2024-08-04');
/** Short leases, claims and waits, so that what takes minutes in production takes seconds here. */
const configYaml = (outageSeconds: number) =>
  `lake: ./lake\nqueue: { prefix: fault, lockSeconds: 2 }\nliveness: { leaseSeconds: 4, heartbeatSeconds: 0.5, outageSeconds: ${outageSeconds} }\n`;

describe('Redis restarted empty mid-run (distributed mode, on a Redis of the test’s own)', () => {
  let redis: OwnRedis;
  let inputs: string;
  let config: DetourConfig;
  let undisturbed: PublishedOutputs;
  const databases: TestDatabase[] = [];
  const workers: DetourProcess[] = [];
  const folders: string[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.create();
    inputs = await sampleRidesFolder(DATES, 20_000);
    folders.push(inputs);
    config = parseConfigText(configYaml(30), 'detour.yaml');
    undisturbed = await undisturbedOutputs(inputs, config, DATES);
  }, 120_000);
  afterEach(async () => {
    for (const worker of workers.splice(0)) worker.child.kill('SIGKILL');
  });
  afterAll(async () => {
    await redis?.destroy();
    for (const database of databases) await database.drop();
    await removeFolders(folders);
  });

  /** A folder with the inputs and configs (workers wait for Redis 30 s; `impatient.yaml` 3 s), an empty database, and two `detour worker`s on them. */
  async function freshSetup(): Promise<{ cwd: string; env: Record<string, string> }> {
    const cwd = await copyOfInputs(inputs);
    folders.push(cwd);
    await writeFile(path.join(cwd, 'detour.yaml'), configYaml(30));
    await writeFile(path.join(cwd, 'impatient.yaml'), configYaml(3));
    const database = await createTestDatabase('detour_fault');
    databases.push(database);
    const env = { DATABASE_URL: database.url, QUEUE_URL: redis.url };
    for (const worker of [1, 2].map(() => startDetour(cwd, ['worker', '--metrics-port', '0'], env))) {
      workers.push(worker);
      while (!worker.output().stdout.includes('worker ready')) {
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.output().stderr}`);
        await sleep(50);
      }
    }
    return { cwd, env };
  }

  /** Resolves once a detect step of the run is running on a worker. */
  async function midRun(databaseUrl: string, coordinator: DetourProcess): Promise<void> {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      for (;;) {
        if (coordinator.child.exitCode !== null) throw new Error(`run ended before the fault: ${coordinator.output().stderr}`);
        const { rows } = await client.query("SELECT 1 FROM detour_steps WHERE step = 'detect' AND status = 'running'").catch(() => ({ rows: [] }));
        if (rows.length > 0) return;
        await sleep(50);
      }
    } finally {
      await client.end();
    }
  }

  it('takes the steps the run store has as succeeded as done, enqueues the others again, and completes the run as if undisturbed', async () => {
    const { cwd, env } = await freshSetup();
    // Warnings on: the coordinator logs the jobs it found lost.
    const coordinator = startDetour(cwd, ['run', 'rides', '--from', DATES[0], '--to', DATES.at(-1) as string], { ...env, LOG_LEVEL: 'warn' });
    await midRun(env.DATABASE_URL, coordinator);
    await redis.kill();
    await sleep(500);
    await redis.start();

    expect(await coordinator.exited(90_000), coordinator.output().stderr).toBe(0);
    expect(coordinator.output().stderr).toMatch(/"step":"detect","lost":\d+,"enqueuedAgain":\d+,"msg":"step jobs lost from the queue/);
    expect(waitingLines(coordinator.output().stderr, 'Redis')).toEqual([expect.stringMatching(new RegExp(`^detour: waiting for Redis at redis://127\\.0\\.0\\.1:${redis.port} \\(`))]);
    expect(coordinator.output().stdout).toMatch(/^run \S+ succeeded/m);
    expect(workers.every((worker) => worker.child.exitCode === null)).toBe(true);
    await expectOutputsAsUndisturbed(cwd, env.DATABASE_URL, config, undisturbed);
  }, 150_000);

  it('gives up on a Redis down longer than it waits with exit 1 and what to do, the run failed at once; resumed once Redis is back, it completes', async () => {
    const { cwd, env } = await freshSetup();
    const coordinator = startDetour(cwd, ['run', 'rides', '--from', DATES[0], '--to', DATES.at(-1) as string, '--config', 'impatient.yaml'], env);
    await midRun(env.DATABASE_URL, coordinator);
    await redis.kill();

    const last = await infrastructureFailure(coordinator, 'Redis', 60_000);
    const failed = new RegExp(
      `^detour: Redis at redis://127\\.0\\.0\\.1:${redis.port} unreachable for \\d+ s \\(.*\\); check that it runs and that QUEUE_URL points at it; once it is back, \`detour runs resume (\\S+)\` continues the run$`,
    ).exec(last);
    expect(failed, last).not.toBeNull();
    // Listing runs needs only the run store (Redis is still down).
    const runs = await detour(cwd, ['runs'], { DATABASE_URL: env.DATABASE_URL });
    expect(runs.stdout).toMatch(new RegExp(`^${(failed as RegExpExecArray)[1]}\\s+rides\\s+\\S+\\s+failed\\s`, 'm'));

    await redis.start();
    const resumed = await detour(cwd, ['runs', 'resume', (failed as RegExpExecArray)[1]], env, 90_000);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(workers.every((worker) => worker.child.exitCode === null)).toBe(true);
    await expectOutputsAsUndisturbed(cwd, env.DATABASE_URL, config, undisturbed);
  }, 150_000);
});
