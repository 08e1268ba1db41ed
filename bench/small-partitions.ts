/**
 * Many small daily partitions, as a user's hand-written pipeline over a public series would have:
 * 215 days of a half-hourly demand series (48 rows a day, one CSV per day), clean → quality →
 * daily aggregate → ARIMA (automatic order) → publish, as one range run on embedded PGlite. What
 * it measures is the fixed cost per date partition, not the engine.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { parseConfigText } from '../src/config/index.js';
import { FsLake } from '../src/lake/index.js';
import { dateRange } from '../src/dates.js';
import { backfill, runParamsOf, startRun, type RunResult } from '../src/pipeline/index.js';
import { openStore } from '../src/store/index.js';
import type { BenchCase } from './main.js';
import { stageTimes } from './stages.js';

const FROM = '2014-07-01';
const DAYS = 215;
const SLOTS_PER_DAY = 48;

const CONFIG = `
datasets:
  taxi_demand:
    format: csv
    columns:
      slot_ts: { type: timestamp, from: timestamp }
      passengers: { type: number, from: value, min: 0 }
    key: slot_ts
    expectations:
      - { type: row_count_between, min: 40, max: 50, severity: fail }
pipelines:
  taxi_demand:
    dataset: taxi_demand
    aggregate:
      - name: taxi_demand_daily
        sql: SELECT 'nyc' AS city, CAST(slot_ts AS DATE) AS day, sum(passengers) AS passengers FROM taxi_demand GROUP BY ALL
    detect:
      - { detector: arima, table: taxi_demand_daily, entity: city, time: day, value: passengers, minHistory: 14 }
`;

/** Passengers per half hour: daily and weekly cycles plus deterministic noise. */
function demandCsv(date: string, dayIndex: number): string {
  const lines = ['timestamp,value'];
  for (let slot = 0; slot < SLOTS_PER_DAY; slot++) {
    const hour = slot / 2;
    const daily = 9_000 + 7_000 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
    const weekly = 1 + 0.15 * Math.sin((dayIndex / 7) * 2 * Math.PI);
    const noise = 400 * Math.sin(dayIndex * 48 + slot * 12.9898);
    lines.push(`${date} ${String(Math.floor(hour)).padStart(2, '0')}:${slot % 2 === 0 ? '00' : '30'}:00,${Math.round(daily * weekly + noise)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `mode`: one range run over all days, or a backfill of one run per day (two at a time), as a daily schedule catching up would. */
const smallPartitionsCase = (mode: 'range' | 'backfill'): BenchCase => ({
  rows: DAYS * SLOTS_PER_DAY,
  label: `${mode} days=${DAYS}`,
  async prepare() {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-small-'));
    const lake = new FsLake(path.join(root, 'lake'));
    const dates = dateRange(FROM, new Date(Date.parse(`${FROM}T00:00:00Z`) + (DAYS - 1) * 86_400_000).toISOString().slice(0, 10));
    for (const [index, date] of dates.entries()) await lake.put(`bronze/taxi_demand/date=${date}/demand.csv`, demandCsv(date, index));
    const store = await openStore({ stateDir: path.join(root, 'state') });
    const config = parseConfigText(CONFIG, 'bench.yaml');
    const app = await openApp({ config, lake, store });
    const services = await app.services({ concurrency: 2 });
    const params = runParamsOf(config, 'taxi_demand');
    return async () => {
      const runs = mode === 'range' ? [await startRun(services, 'taxi_demand', params, dates)] : (await backfill(services, 'taxi_demand', params, dates[0], dates[dates.length - 1], { parallel: 2 })).succeeded;
      await app.close();
      await store.close();
      return runs;
    };
  },
  report: (value) => {
    const runs = value as RunResult[];
    return { ...stageTimes(runs.map((run) => run.steps), 2), runs: runs.length, days: runs.reduce((sum, run) => sum + run.summaries.length, 0), anomalies: runs.reduce((sum, run) => sum + (run.run.outliers ?? 0), 0) };
  },
});

export const cases: readonly BenchCase[] = [smallPartitionsCase('range'), smallPartitionsCase('backfill')];
