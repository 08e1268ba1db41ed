/** What a fault test compares after the fault: the published outputs of a lake and a results database, against an undisturbed run's. */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import type { DetourConfig } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { backfill, pipelineLayout, runParamsOf } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type AnomalyRow } from '../../src/store/index.js';
import { embeddedServices } from '../helpers/pipeline.js';

/** Per date: `anomalies.json` as bytes and the table's rows (without the run that wrote them). */
export type PublishedOutputs = Map<string, { json: Buffer; rows: AnomalyRow[] }>;

/** A folder with sample rides in `lake/bronze`, Parquet, one file a day. */
export async function sampleRidesFolder(dates: string[], ridesPerDay: number): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-fault-'));
  await writeSampleRides(new FsLake(path.join(root, 'lake')), { from: dates[0], to: dates.at(-1) as string, ridesPerDay, seed: 7, format: 'parquet' });
  return root;
}

/** A fresh folder whose lake holds a copy of `source`'s bronze: a run there starts from nothing. */
export async function copyOfInputs(source: string): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-fault-'));
  await cp(path.join(source, 'lake', 'bronze'), path.join(root, 'lake', 'bronze'), { recursive: true });
  return root;
}

/** The rides pipeline over `dates`, one run per date, in this process on embedded PGlite, undisturbed. */
export async function undisturbedOutputs(source: string, config: DetourConfig, dates: string[]): Promise<PublishedOutputs> {
  const root = await copyOfInputs(source);
  const lake = new FsLake(path.join(root, 'lake'));
  const store = await openStore({ stateDir: path.join(root, 'state') });
  const services = await embeddedServices(lake, store);
  try {
    const result = await backfill(services, 'rides', runParamsOf(config, 'rides'), dates[0], dates.at(-1) as string);
    expect(result.failed).toEqual([]);
    const outputs: PublishedOutputs = new Map();
    for (const date of dates) {
      const rows = (await store.listAnomalies('ride_anomalies', date)).map(({ runId: _run, ...row }) => row);
      outputs.set(date, { json: await lake.get(pipelineLayout('rides', config.pipelines.rides, date).anomalies), rows });
    }
    return outputs;
  } finally {
    await services.queue.close();
    await store.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Removes the folders a fault test made (each holds a lake of sample rides: megabytes). */
export async function removeFolders(folders: string[]): Promise<void> {
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
}

/**
 * Checks what a disturbed lake and PostgreSQL database hold: no run left running, every date
 * succeeded, `anomalies.json` byte-identical to the undisturbed run's, and every row of the
 * anomalies table there exactly once, as in the undisturbed run.
 */
export async function expectOutputsAsUndisturbed(root: string, databaseUrl: string, config: DetourConfig, expected: PublishedOutputs): Promise<void> {
  const lake = new FsLake(path.join(root, 'lake'));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows: running } = await client.query("SELECT id FROM detour_runs WHERE status = 'running'");
    expect(running).toEqual([]);
    const { rows: [counts] } = await client.query<{ rows: string; distinct_rows: string }>(
      'SELECT count(*) AS rows, count(DISTINCT (logical_date, id)) AS distinct_rows FROM ride_anomalies',
    );
    expect(Number(counts.rows)).toBe(Number(counts.distinct_rows));
    expect(Number(counts.rows)).toBe([...expected.values()].reduce((sum, date) => sum + date.rows.length, 0));
  } finally {
    await client.end();
  }
  const store = await openStore({ databaseUrl, stateDir: root });
  try {
    expect(await store.succeededDates('rides', [...expected.keys()][0], [...expected.keys()].at(-1) as string)).toEqual([...expected.keys()]);
    for (const [date, { json, rows }] of expected) {
      expect((await lake.get(pipelineLayout('rides', config.pipelines.rides, date).anomalies)).equals(json)).toBe(true);
      expect((await store.listAnomalies('ride_anomalies', date)).map(({ runId: _run, ...row }) => row)).toEqual(rows);
    }
  } finally {
    await store.close();
  }
}
