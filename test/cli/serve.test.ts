import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { dueRuns } from '../../src/scheduler/index.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;

describe('detour serve', () => {
  it('runs the due scheduled date, serves the API, /metrics and /healthz, and stops cleanly on SIGTERM', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-serve-'));
    // On first start only the latest due tick runs: with the default schedule (02:00 UTC, previous day).
    const [{ logicalDate }] = dueRuns(DetourConfigSchema.parse({}).pipelines.rides.schedule, null, new Date());
    await writeSampleRides(new FsLake(path.join(cwd, 'lake')), { from: logicalDate, to: logicalDate, ridesPerDay: 2_000, seed: 1, format: 'parquet' });

    const serve = spawn(process.execPath, ['--import', tsxLoader, path.join(projectRoot, 'src/cli/main.ts'), 'serve', '--pipeline', 'rides', '--port', '0', '--metrics-port', '0', '--tick-seconds', '1'], {
      cwd,
      env: { ...process.env, DATABASE_URL: '', QUEUE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    serve.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ran = new Promise<void>((resolve) => {
      serve.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (/rides \S+: run \S+ succeeded/.test(stdout)) resolve();
      });
    });
    try {
      await ran;
      expect(stdout).toMatch(new RegExp(`^rides ${logicalDate}: run \\S+ succeeded, \\d+ anomalies$`, 'm'));
      const metricsUrl = /metrics (http:\/\/\S+\/metrics)/.exec(stdout)?.[1] as string;
      const metrics = await (await fetch(metricsUrl)).text();
      expect(metrics).toMatch(/^detour_runs_total\{pipeline="rides",status="succeeded"\} 1$/m);
      // One detect partition per record detector of the day: DBSCAN, conditional, pattern.
      expect(metrics).toMatch(/^detour_step_duration_seconds_count\{pipeline="rides",step="detect"\} 3$/m);
      expect(metrics).toMatch(/^detour_rows_processed_total\{pipeline="rides",step="clean"\} 2000$/m);
      expect(metrics).toMatch(/^detour_queue_depth\{state="waiting"\} 0$/m);
      expect(await (await fetch(metricsUrl.replace(/metrics$/, 'healthz'))).json()).toEqual({ status: 'ok' });
      // The API (no token configured: loopback only, no token asked) serves the same metrics and the run.
      const apiUrl = /api (http:\/\/127\.0\.0\.1:\d+) \(no API token configured/.exec(stdout)?.[1] as string;
      expect(await (await fetch(`${apiUrl}/metrics`)).text()).toMatch(/^detour_runs_total\{pipeline="rides",status="succeeded"\} 1$/m);
      const { runs } = (await (await fetch(`${apiUrl}/v1/runs?pipeline=rides`)).json()) as { runs: { from: string; status: string }[] };
      expect(runs).toEqual([expect.objectContaining({ from: logicalDate, status: 'succeeded' })]);
    } finally {
      serve.kill('SIGTERM');
    }
    const [code] = (await once(serve, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/SIGTERM: stopping/);
  });
});
