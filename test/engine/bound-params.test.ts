import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';

let engine: Engine;
let root: string;
beforeEach(async () => {
  engine = await openEngine();
  root = await mkdtemp(path.join(os.tmpdir(), 'detour-params-'));
});
afterEach(async () => {
  await engine.close();
  await rm(root, { recursive: true, force: true });
});

it('binds values, quotes included, in queries and exports, and a string array as a file list', async () => {
  const lake = new FsLake(root);
  await engine.exportQuery(`SELECT $1 AS name, $2 AS rides`, lake, "zone/it's.parquet", 'parquet', ["O'Hare; DROP TABLE x", 3]);
  const file = lake.localPath("zone/it's.parquet") as string;
  const rows = await engine.rows(`SELECT * FROM read_parquet($1) WHERE name = $2`, [[file, file], "O'Hare; DROP TABLE x"]);
  expect(rows).toEqual([
    { name: "O'Hare; DROP TABLE x", rides: 3 },
    { name: "O'Hare; DROP TABLE x", rides: 3 },
  ]);
});

it('binds an empty string array as an empty file list', async () => {
  expect(await engine.rows(`SELECT len($1) AS files`, [[]])).toEqual([{ files: 0 }]);
});

it('runs a statement again on its earlier preparation with the new values, after what it reads has changed, and two at once apart', async () => {
  const lake = new FsLake(root);
  await engine.run(`CREATE TABLE zones AS SELECT 'a' AS zone, 1 AS rides`);
  const exportSql = `SELECT * FROM zones WHERE rides >= $1 ORDER BY ALL`;
  expect(await engine.exportQuery(exportSql, lake, 'first/zones.parquet', 'parquet', [1])).toBe(1);
  // The table it reads is replaced, with another column: the same text binds it afresh.
  await engine.run(`CREATE OR REPLACE TABLE zones AS SELECT * FROM (VALUES ('b', 2, 0.5), ('c', 3, 1.5)) AS t(zone, rides, share)`);
  expect(await engine.exportQuery(exportSql, lake, 'second/zones.parquet', 'parquet', [3])).toBe(1);
  expect(await engine.rows(`SELECT * FROM read_parquet($1)`, [[lake.localPath('second/zones.parquet') as string]])).toEqual([{ zone: 'c', rides: 3, share: 1.5 }]);
  expect(await engine.rows(`SELECT * FROM read_parquet($1)`, [[lake.localPath('first/zones.parquet') as string]])).toEqual([{ zone: 'a', rides: 1 }]);
  // The same text at once with other values, one of them on the statement prepared here: each call gets its own.
  const countSql = `SELECT count(*) AS n FROM range(10) WHERE range >= $1`;
  expect(await engine.rows(countSql, [0])).toEqual([{ n: 10 }]);
  const counted = await Promise.all([1, 2, 3, 4].map((min) => engine.rows<{ n: number }>(countSql, [min])));
  expect(counted.map(([{ n }]) => n)).toEqual([9, 8, 7, 6]);
  // A failing run leaves the text usable.
  await expect(engine.rows(`SELECT CAST($1 AS INTEGER) AS n`, ['x'])).rejects.toThrow(/Could not convert/);
  expect(await engine.rows(`SELECT CAST($1 AS INTEGER) AS n`, ['7'])).toEqual([{ n: 7 }]);
});
