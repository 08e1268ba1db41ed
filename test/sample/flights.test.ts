import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';
import { writeSampleFlights } from '../../src/sample/index.js';

describe('sample flights', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine();
  });
  afterAll(async () => {
    await engine.close();
  });

  it('lands all 3M real flights as daily bronze partitions, and reloading replaces them', async () => {
    const lake = new FsLake(path.join(await mkdtemp(path.join(os.tmpdir(), 'detour-flights-')), 'lake'));
    const dates = await writeSampleFlights(engine, lake);
    expect(dates).toHaveLength(182);
    expect(dates[0]).toBe('2001-01-01');
    expect(dates.at(-1)).toBe('2001-07-01');
    const countRows = async () =>
      engine.rows<{ rows: number; days: number; wrongDay: number }>(
        `SELECT count(*) AS rows, count(DISTINCT filename) > 0 AS files, count(DISTINCT regexp_extract(filename, 'date=([0-9-]+)', 1)) AS days,
                count(*) FILTER (WHERE strftime(date, '%Y-%m-%d') <> regexp_extract(filename, 'date=([0-9-]+)', 1)) AS wrongDay
         FROM read_parquet('${lake.localPath('bronze/flights')}/*/*.parquet', filename = true, hive_partitioning = false)`,
      );
    expect(await countRows()).toEqual([{ rows: 3_000_000, files: true, days: 182, wrongDay: 0 }]);
    await writeSampleFlights(engine, lake);
    expect((await countRows())[0].rows).toBe(3_000_000);
  });
});
