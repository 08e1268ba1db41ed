import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { openEngine } from '../../src/engine/index.js';
import { dateRange } from '../../src/dates.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineLayout, type RunSummary } from '../../src/pipeline/index.js';
import { writeSampleFlights, writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { FIXTURES } from '../helpers/fixtures.js';
import { runPipeline, seedConfig } from '../helpers/pipeline.js';

// Outputs recorded before the typed clean path (see test/fixtures/golden/README.md): the same input
// must still publish the same bytes and count the same rows. Those goldens are the seed's methods
// (rides: DBSCAN alone; flights: every airport-day, however few flights); the built-in pipelines
// that added detectors (rides) and a minimum of flights (flights) have goldens of their own.

const SEED = seedConfig();
const BUILT_IN = DetourConfigSchema.parse({});
const golden = (name: string) => readFileSync(new URL(`golden/${name}`, FIXTURES));
const goldenJson = <T>(name: string) => JSON.parse(golden(name).toString()) as T;

type Counts = Pick<RunSummary, 'rows_read' | 'rows_valid' | 'rows_quarantined'> & { quarantine_reasons?: Record<string, number> };
const SILVER_COUNTS = goldenJson<Record<'rides' | 'flights', Record<string, Counts>>>('silver-counts.json');

/** A summary's row counts, as the golden file records them (no reasons where none were quarantined). */
const countsOf = (summary: RunSummary): Counts => ({
  rows_read: summary.rows_read,
  rows_valid: summary.rows_valid,
  rows_quarantined: summary.rows_quarantined,
  ...(summary.rows_quarantined > 0 ? { quarantine_reasons: summary.quarantine_reasons } : {}),
});

describe('golden outputs of the rides and flights pipelines', () => {
  let root: string;
  let store: Store;
  const freshLake = async (name: string) => new FsLake(await mkdtemp(path.join(root, `${name}-`)));

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-golden-'));
    store = await openStore({ stateDir: path.join(root, 'state') });
  });
  afterAll(async () => {
    await store.close();
  });

  it('a Parquet day of sample rides publishes the same anomalies.json bytes and counts, by DBSCAN alone and by the built-in detectors', async () => {
    const day = '2024-03-05';
    const lake = await freshLake('rides-parquet');
    await writeSampleRides(lake, { from: day, to: day, ridesPerDay: 20_000, seed: 7, format: 'parquet' });
    const { summaries } = await runPipeline(lake, store, SEED, 'rides', [day]);
    expect(summaries.map(countsOf)).toEqual([SILVER_COUNTS.rides[day]]);
    const anomalies = pipelineLayout('rides', BUILT_IN.pipelines.rides, day).anomalies;
    expect((await lake.get(anomalies)).toString()).toBe(golden(`rides-${day}.anomalies.json`).toString());
    await runPipeline(lake, store, BUILT_IN, 'rides', [day]);
    expect((await lake.get(anomalies)).toString()).toBe(golden(`rides-${day}.built-in.anomalies.json`).toString());
  });

  it('a flawed CSV day of rides publishes the same anomalies and quarantines the same rows for the same reasons', async () => {
    const day = '2024-03-06';
    const lake = await freshLake('rides-csv');
    await lake.put(`bronze/rides/date=${day}/rides.csv`, gunzipSync(golden(`rides-${day}.csv.gz`)));
    const { summaries } = await runPipeline(lake, store, SEED, 'rides', [day]);
    expect(summaries.map(countsOf)).toEqual([SILVER_COUNTS.rides[day]]);
    const layout = pipelineLayout('rides', SEED.pipelines.rides, day);
    expect((await lake.get(layout.anomalies)).toString()).toBe(golden(`rides-${day}.anomalies.json`).toString());

    // The golden quarantine holds every value as text (or null); the Parquet file keeps
    // `_source_row` a BIGINT, so values are compared as text, field by field and in order.
    const expected = goldenJson<Record<string, string | null>[]>(`rides-${day}.quarantine.json`);
    const engine = await openEngine();
    try {
      const rows = await engine.rows(`SELECT * FROM read_parquet($1, hive_partitioning = false)`, [lake.localPath(layout.quarantine) as string]);
      expect(rows.map((row) => Object.keys(row))).toEqual(expected.map((row) => Object.keys(row)));
      expect(rows.map((row) => Object.fromEntries(Object.entries(row).map(([name, value]) => [name, value === null ? null : String(value)])))).toEqual(expected);
    } finally {
      await engine.close();
    }
  });

  it('a month of flights publishes the same anomalies.json bytes and counts for every date, with and without a minimum of flights', async () => {
    const dates = dateRange('2001-01-01', '2001-01-31');
    const lake = await freshLake('flights');
    const engine = await openEngine();
    try {
      await writeSampleFlights(engine, lake);
    } finally {
      await engine.close();
    }
    const { summaries } = await runPipeline(lake, store, SEED, 'flights', dates);
    expect(Object.fromEntries(summaries.map((summary) => [summary.logical_date, countsOf(summary)]))).toEqual(
      Object.fromEntries(dates.map((date) => [date, SILVER_COUNTS.flights[date]])),
    );
    // The golden file gathers each date's anomalies.json under its date; written as publish writes it, each must match byte for byte.
    const matchesGolden = async (name: string) => {
      const expected = goldenJson<Record<string, unknown[]>>(name);
      expect(Object.keys(expected)).toEqual(dates);
      for (const date of dates) {
        const published = (await lake.get(pipelineLayout('flights', BUILT_IN.pipelines.flights, date).anomalies)).toString();
        expect(published, `${name} ${date}`).toBe(`${JSON.stringify(expected[date], null, 1)}\n`);
      }
    };
    await matchesGolden('flights-2001-01.anomalies.json');
    await runPipeline(lake, store, BUILT_IN, 'flights', dates);
    await matchesGolden('flights-2001-01.built-in.anomalies.json');
  });
});
