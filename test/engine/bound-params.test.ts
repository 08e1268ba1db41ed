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
