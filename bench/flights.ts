/**
 * The whole flights ETL on the real 3M flights of January–June 2001, from the raw parquet to the
 * results database: ingest (daily bronze partitions), clean, quality, aggregate, ARIMA with the
 * automatic order search + Isolation Forest per airport, publish. Embedded PGlite, or the
 * PostgreSQL server at DATABASE_URL when set.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { DetourConfigSchema } from '../src/config/index.js';
import { openEngine } from '../src/engine/index.js';
import { FsLake } from '../src/lake/index.js';
import { dateRange } from '../src/dates.js';
import { runParamsOf, startRun, type RunResult } from '../src/pipeline/index.js';
import { writeSampleFlights } from '../src/sample/index.js';
import { openStore } from '../src/store/index.js';
import type { BenchCase } from './main.js';

const FLIGHTS = 3_000_000;

async function prepare(parallel: number) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-flights-'));
  const lake = new FsLake(path.join(root, 'lake'));
  const store = await openStore({ databaseUrl: process.env.DATABASE_URL, stateDir: path.join(root, 'state') });
  const config = DetourConfigSchema.parse({});
  const app = await openApp({ config, lake, store });
  const services = await app.services({ concurrency: parallel });
  return async () => {
    const ingestStarted = performance.now();
    const engine = await openEngine();
    await writeSampleFlights(engine, lake);
    await engine.close();
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;
    const result = await startRun(services, 'flights', runParamsOf(config, 'flights'), dateRange('2001-01-01', '2001-06-30'));
    await app.close();
    await store.close();
    return { ingestSeconds, result };
  };
}

/** `parallel`: step partitions run at once in the one process, as `detour run --parallel N`. */
const flightsCase = (parallel: number): BenchCase => ({
  rows: FLIGHTS,
  label: `parallel=${parallel}`,
  prepare: () => prepare(parallel),
  report: (value) => {
    const { ingestSeconds, result } = value as { ingestSeconds: number; result: RunResult };
    // Seconds summed over each step's partitions (with parallel > 1 they overlap in wall time).
    const stages: Record<string, number> = { ingest: Number(ingestSeconds.toFixed(2)) };
    for (const step of result.steps) stages[step.step] = Number(((stages[step.step] ?? 0) + (step.seconds ?? 0)).toFixed(2));
    return { stage_seconds: stages, days: result.summaries.length, anomalies: result.run.outliers };
  },
});

export const cases: readonly BenchCase[] = [flightsCase(1), flightsCase(2)];
