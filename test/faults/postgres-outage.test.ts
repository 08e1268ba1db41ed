import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { detour, infrastructureFailure, startDetour, waitingLines, type DetourProcess } from './detour-process.js';
import { OwnPostgres } from './own-services.js';
import { copyOfInputs, expectOutputsAsUndisturbed, removeFolders, sampleRidesFolder, undisturbedOutputs, type PublishedOutputs } from './outputs.js';

const DATES = dateRange('2024-07-01', '2024-07-04');
const LEASE_SECONDS = 4;
/** Short leases and waits, so that what takes minutes in production takes seconds here. */
const CONFIG_YAML = `lake: ./lake\nliveness: { leaseSeconds: ${LEASE_SECONDS}, heartbeatSeconds: 0.5, outageSeconds: 3 }\n`;

describe('PostgreSQL stopped mid-backfill (embedded mode, on a PostgreSQL server of the test’s own)', () => {
  let server: OwnPostgres;
  let inputs: string;
  let config: DetourConfig;
  let undisturbed: PublishedOutputs;
  let databases = 0;
  const folders: string[] = [];

  beforeAll(async () => {
    server = await OwnPostgres.create();
    inputs = await sampleRidesFolder(DATES, 20_000);
    folders.push(inputs);
    config = parseConfigText(CONFIG_YAML, 'detour.yaml');
    undisturbed = await undisturbedOutputs(inputs, config, DATES);
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
    await removeFolders(folders);
  });

  /** A folder with the inputs and config, and an empty database on the test's server. */
  async function freshSetup(): Promise<{ cwd: string; env: Record<string, string> }> {
    const cwd = await copyOfInputs(inputs);
    folders.push(cwd);
    await writeFile(path.join(cwd, 'detour.yaml'), CONFIG_YAML);
    const name = `detour_fault_${++databases}`;
    const admin = new pg.Client({ connectionString: server.url() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    return { cwd, env: { DATABASE_URL: server.url(name) } };
  }

  /** Resolves once the backfill is between dates: one run succeeded and the next one is running. */
  async function midBackfill(databaseUrl: string, backfill: DetourProcess): Promise<void> {
    for (;;) {
      if (backfill.child.exitCode !== null) throw new Error(`backfill ended before the outage: ${backfill.output().stderr}`);
      const client = new pg.Client({ connectionString: databaseUrl });
      try {
        await client.connect();
        const { rows } = await client.query<{ status: string }>('SELECT status FROM detour_runs');
        if (rows.some((run) => run.status === 'succeeded') && rows.some((run) => run.status === 'running')) return;
      } catch {
        // Not migrated yet.
      } finally {
        await client.end().catch(() => undefined);
      }
      await sleep(50);
    }
  }

  it('rides out an outage shorter than the lease: the backfill completes, having said once that it waits', async () => {
    const { cwd, env } = await freshSetup();
    const backfill = startDetour(cwd, ['backfill', 'rides', '--from', DATES[0], '--to', DATES.at(-1) as string], env);
    await midBackfill(env.DATABASE_URL, backfill);
    await server.stop('fast');
    await sleep(1_000);
    await server.start();

    expect(await backfill.exited(90_000), backfill.output().stderr).toBe(0);
    const { stdout, stderr } = backfill.output();
    expect(stdout).toMatch(/backfill rides 2024-07-01\.\.2024-07-04: 4 succeeded, 0 failed, 0 skipped/);
    expect(waitingLines(stderr, 'PostgreSQL')).toEqual([expect.stringMatching(new RegExp(`^detour: waiting for PostgreSQL at 127\\.0\\.0\\.1:${server.port} \\(`))]);
    await expectOutputsAsUndisturbed(cwd, env.DATABASE_URL, config, undisturbed);
  }, 120_000);

  it('gives up on a longer outage with exit 1 and what to do; once its lease expired the run is failed, and resume and backfill finish every date exactly once', async () => {
    const { cwd, env } = await freshSetup();
    const backfill = startDetour(cwd, ['backfill', 'rides', '--from', DATES[0], '--to', DATES.at(-1) as string], env);
    await midBackfill(env.DATABASE_URL, backfill);
    await server.stop('immediate'); // a crash: connections drop without goodbye
    const stoppedAt = Date.now();

    const last = await infrastructureFailure(backfill, 'PostgreSQL', 60_000);
    const interrupted = new RegExp(
      `^detour: PostgreSQL at 127\\.0\\.0\\.1:${server.port} unreachable for \\d+ s \\(.*\\); check that it runs and that DATABASE_URL points at it; run (\\S+) fails when its lease expires, then \`detour runs resume \\1\` continues it$`,
    ).exec(last);
    expect(interrupted, last).not.toBeNull();
    const runId = (interrupted as RegExpExecArray)[1];

    await server.start();
    await sleep(Math.max(0, stoppedAt + LEASE_SECONDS * 1000 - Date.now()));
    const runs = await detour(cwd, ['runs'], env);
    expect(runs.code).toBe(0);
    expect(runs.stdout).not.toMatch(/\srunning\s/);
    const shown = JSON.parse((await detour(cwd, ['runs', 'show', runId, '--json'], env)).stdout) as { status: string; error: string };
    expect(shown.status).toBe('failed');
    expect(shown.error).toMatch(new RegExp(`^coordinator \\S+:${backfill.child.pid} stopped heartbeating at .*; resume it with \`detour runs resume ${runId}\`$`));

    const resumed = await detour(cwd, ['runs', 'resume', runId], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const rest = await detour(cwd, ['backfill', 'rides', '--from', DATES[0], '--to', DATES.at(-1) as string], env);
    expect(rest.code, rest.stderr).toBe(0);
    expect(rest.stdout).toMatch(/0 failed/);
    await expectOutputsAsUndisturbed(cwd, env.DATABASE_URL, config, undisturbed);
  }, 150_000);
});
