/**
 * The whole flights ETL on the real 3M flights of January–June 2001, from the raw parquet to the
 * results database: ingest (daily bronze partitions), clean, quality, aggregate, ARIMA with the
 * automatic order search + Isolation Forest per airport, publish. Embedded PGlite, or the
 * PostgreSQL server at DATABASE_URL when set. Reports the ingest's and the run's seconds apart, and
 * the run's per stage (see stageTimes).
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
import { stageTimes } from './stages.js';

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
    const runStarted = performance.now();
    const result = await startRun(services, 'flights', runParamsOf(config, 'flights'), dateRange('2001-01-01', '2001-06-30'));
    const runSeconds = (performance.now() - runStarted) / 1000;
    await app.close();
    await store.close();
    return { ingestSeconds, runSeconds, result };
  };
}

/** `parallel`: step partitions run at once in the one process, as `detour run --parallel N`. */
const flightsCase = (parallel: number): BenchCase => ({
  rows: FLIGHTS,
  label: `parallel=${parallel}`,
  prepare: () => prepare(parallel),
  report: (value) => {
    const { ingestSeconds, runSeconds, result } = value as { ingestSeconds: number; runSeconds: number; result: RunResult };
    // `seconds` is ingest + run: raw Parquet to PostgreSQL.
    return {
      ingest_seconds: Number(ingestSeconds.toFixed(2)),
      run_seconds: Number(runSeconds.toFixed(2)),
      ...stageTimes([result.steps], 2),
      days: result.summaries.length,
      anomalies: result.run.outliers,
    };
  },
});

export const cases: readonly BenchCase[] = [flightsCase(1), flightsCase(2)];
