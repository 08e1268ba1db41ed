/**
 * One day of seeded sample rides (Parquet; 100k, and 1M) through the whole rides pipeline, as a
 * daily scheduled run does it: clean, quality, DBSCAN + conditional + pattern, publish, through
 * `startRun` with embedded PGlite. The sample and the store are prepared untimed; the run is the
 * measured work. Reports seconds per step kind and per detect partition.
 *
 * The plain cases run in a fresh process (as `detour run` from cron, or `npm start`): compiling
 * the code is part of the time. The `warm` case runs the day before first, untimed, in the same
 * process (as `detour serve`'s schedule does day after day), then times the day.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { DetourConfigSchema } from '../src/config/index.js';
import { FsLake } from '../src/lake/index.js';
import { runParamsOf, startRun, type RunResult } from '../src/pipeline/index.js';
import { writeSampleRides } from '../src/sample/index.js';
import { openStore } from '../src/store/index.js';
import type { BenchCase } from './main.js';
import { stageTimes } from './stages.js';

const DAY = '2024-03-05';
const DAY_BEFORE = '2024-03-04';

async function prepare(rides: number, warm: boolean) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-rides-day-'));
  const lake = new FsLake(path.join(root, 'lake'));
  await writeSampleRides(lake, { from: warm ? DAY_BEFORE : DAY, to: DAY, ridesPerDay: rides, seed: 42, format: 'parquet' });
  const store = await openStore({ stateDir: path.join(root, 'state') });
  const config = DetourConfigSchema.parse({});
  const app = await openApp({ config, lake, store });
  const services = await app.services();
  if (warm) await startRun(services, 'rides', runParamsOf(config, 'rides'), [DAY_BEFORE]);
  return async () => {
    const result = await startRun(services, 'rides', runParamsOf(config, 'rides'), [DAY]);
    await app.close();
    await store.close();
    return result;
  };
}

export const cases: readonly BenchCase[] = [
  { rides: 100_000, warm: false },
  { rides: 1_000_000, warm: false },
  { rides: 100_000, warm: true },
].map(({ rides, warm }) => ({
  rows: rides,
  ...(warm ? { label: 'warm' } : {}),
  prepare: () => prepare(rides, warm),
  report: (value) => {
    const result = value as RunResult;
    const detect = Object.fromEntries(result.steps.filter((step) => step.step === 'detect').map((step) => [step.partition, step.seconds]));
    return { ...stageTimes([result.steps], 3), detect_seconds: detect, anomalies: result.run.outliers };
  },
}));
