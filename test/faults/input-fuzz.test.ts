import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { openEngine, readInputTable, type Engine } from '../../src/engine/index.js';
import { InputError, QualityGateError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { validateRows } from '../../src/quality/index.js';
import { RIDE_ROW_RULES } from '../helpers/fixtures.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

/**
 * Seeded input fuzzer of the clean step's reading and validation (readInputTable + validateRows,
 * as cleanDates calls them): every variant of a small valid rides sample either validates, with
 * every record accounted for, or fails as bad input with one short line. A corrupt gzip never
 * yields rows. Parquet bit flips inside values can decode silently (DuckDB writes no page CRC),
 * so for Parquet only the outcome class is checked.
 */

const DAY = '2024-05-01';
const HEADER = ['ride_id', 'taxi_id', 'pickup_ts', 'dropoff_ts', 'ride_dist_km', 'ride_time_min'];
const RULES = RIDE_ROW_RULES;
const VARIANTS = 320;

/** mulberry32: small, seeded, good enough to pick mutations. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rides: string[][] = Array.from({ length: 120 }, (_, i) => [
  `R${String(i).padStart(4, '0')}`,
  `T${i % 7}`,
  `${DAY} 08:${String(i % 60).padStart(2, '0')}:00`,
  `${DAY} 09:${String(i % 60).padStart(2, '0')}:00`,
  (2 + (i % 10) * 0.1).toFixed(1),
  String(10 + (i % 7)),
]);

type Format = 'csv' | 'csv.gz' | 'parquet' | 'jsonl';
const EXTREMES = ['1e308', '-1e308', '1e400', '-0', 'NaN', '-inf', '', ' ', '"', 'null', 'infinity', 'epoch', '9'.repeat(400), 'é'.repeat(50), '\u0000', '0x10', "'; DROP TABLE x; --"];

function csvOf(rows: string[][], header = HEADER, eol = '\n'): string {
  return [header, ...rows].map((row) => row.join(',')).join(eol) + eol;
}

function jsonlOf(rows: string[][], header = HEADER): string {
  return rows.map((row) => JSON.stringify(Object.fromEntries(header.map((name, k) => [name, k >= 4 && row[k] !== '' && !Number.isNaN(Number(row[k])) ? Number(row[k]) : row[k]])))).join('\n') + '\n';
}

describe('input fuzzing of the clean step', () => {
  let lake: FsLake;
  let engine: Engine;
  let parquetBytes: Buffer;
  let store: Store;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-fuzz-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    engine = await openEngine();
    await lake.put('seed/rides.csv', csvOf(rides));
    await engine.exportQuery(`SELECT * FROM read_csv($1, header = true, timestampformat = '%Y-%m-%d %H:%M:%S')`, lake, 'seed/rides.parquet', 'parquet', [lake.localPath('seed/rides.csv') as string]);
    parquetBytes = Buffer.from(await lake.get('seed/rides.parquet'));
  });
  afterAll(async () => {
    await engine.close();
    await store.close();
  });

  /** One variant: its file name, bytes, and whether the bytes are known corrupt (no row may be published). */
  function variant(index: number): { name: string; bytes: Buffer; corrupt: boolean; mutation: string } {
    const next = random(index * 7919 + 1);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
    const format: Format = pick(['csv', 'csv.gz', 'parquet', 'jsonl'] as const);
    let rows = rides.slice(0, 20 + Math.floor(next() * 100)).map((row) => [...row]);
    let header = [...HEADER];
    const textMutation = pick(['none', 'extreme', 'columns', 'eol', 'encoding'] as const);
    let eol = '\n';
    let encoding: BufferEncoding = 'utf8';
    if (textMutation === 'extreme') for (let k = 0; k < 1 + next() * 5; k++) rows[Math.floor(next() * rows.length)][Math.floor(next() * 6)] = pick(EXTREMES);
    if (textMutation === 'columns') {
      const change = pick(['drop', 'add', 'swap', 'rename', 'short'] as const);
      const column = Math.floor(next() * 6);
      if (change === 'drop') [header, rows] = [header.filter((_, k) => k !== column), rows.map((row) => row.filter((_, k) => k !== column))];
      if (change === 'add') [header, rows] = [[...header, 'extra'], rows.map((row) => [...row, 'x'])];
      if (change === 'swap') [header, rows] = [[...header].reverse(), rows.map((row) => [...row].reverse())];
      if (change === 'rename') header[column] = `${header[column]}_x`;
      if (change === 'short') rows[Math.floor(next() * rows.length)] = rows[0].slice(0, column);
    }
    if (textMutation === 'eol') eol = pick(['\r\n', '\r', 'mixed'] as const);
    if (textMutation === 'encoding') {
      encoding = pick(['utf16le', 'latin1'] as const);
      rows = rows.map((row, i) => (i % 3 ? row : [row[0], `Tà${row[1]}`, ...row.slice(2)]));
    }
    let text = format === 'jsonl' ? jsonlOf(rows, header) : csvOf(rows, header);
    if (eol === 'mixed') text = text.split('\n').map((line, i) => line + (i % 2 ? '\r\n' : '\n')).join('');
    else if (eol !== '\n') text = text.replaceAll('\n', eol);
    let bytes: Buffer = format === 'parquet' ? Buffer.from(parquetBytes) : Buffer.from(text, encoding);
    if (format === 'csv.gz') bytes = gzipSync(bytes);
    // Damage to the bytes as stored: a gzip that is truncated or flipped fails its CRC or length.
    const damage = pick(['none', 'none', 'flip', 'truncate'] as const);
    let corrupt = false;
    if (damage === 'flip') {
      for (let k = 0; k < 1 + next() * 4; k++) {
        const at = Math.floor(next() * bytes.length);
        bytes[at] ^= 1 << Math.floor(next() * 8);
      }
      corrupt = format === 'csv.gz';
    }
    if (damage === 'truncate') {
      bytes = bytes.subarray(0, Math.floor(next() * bytes.length));
      corrupt = format === 'csv.gz';
    }
    return { name: `rides.${format}`, bytes, corrupt, mutation: `${format}/${textMutation}/${damage}` };
  }

  it(`gives every one of ${VARIANTS} variants a clean outcome: valid + quarantined = read, or one short input-error line`, async () => {
    const outcomes: Record<string, number> = {};
    let rowsLost = 0;
    for (let index = 0; index < VARIANTS; index++) {
      const { name, bytes, corrupt, mutation } = variant(index);
      const partition = `bronze/fuzz/v${index}/`;
      await lake.put(`${partition}${name}`, bytes);
      const outcome = await Promise.race([
        (async () => {
          const input = await readInputTable(engine, lake, await lake.list(partition), { table: `fz${index}`, format: 'auto', requiredColumns: HEADER });
          const result = await validateRows(engine, input, RULES);
          const counts = result.partitions[partition];
          const valid = result.validRows(partition, HEADER.map((column) => ({ name: column, from: column, type: 'string' as const })));
          const rejected = result.rejectedRows(partition);
          const [{ n: validCount }] = await engine.rows<{ n: number }>(`SELECT count(*) AS n FROM (${valid.sql})`, valid.params);
          const [{ n: rejectedCount }] = await engine.rows<{ n: number }>(`SELECT count(*) AS n FROM (${rejected.sql})`, rejected.params);
          rowsLost += Math.abs(counts.rowsRead - validCount - rejectedCount) + Math.abs(counts.rowsValid - validCount);
          expect(counts.rowsRead, mutation).toBe(validCount + rejectedCount);
          if (corrupt) expect(validCount, `${mutation}: rows published from a corrupt file`).toBe(0);
          return validCount === 0 ? 'ok, nothing valid' : 'ok';
        })().catch((error: unknown) => {
          if (!(error instanceof InputError || error instanceof QualityGateError)) throw new Error(`${mutation}: ${String(error)}`, { cause: error });
          expect(error.message, mutation).not.toMatch(/\n/);
          expect(error.message.length, `${mutation}: ${error.message.slice(0, 80)}`).toBeLessThanOrEqual(300);
          return error.name;
        }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${mutation}: hung`)), 20_000).unref()),
      ]);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.log(`input fuzz: ${VARIANTS} variants, outcomes ${JSON.stringify(outcomes)}, rows lost ${rowsLost}`);
    expect(rowsLost).toBe(0);
  }, 180_000);

  it('runs every 20th variant through the whole rides pipeline: success, or an input or quality-gate error, failed once and not retried', async () => {
    const config = DetourConfigSchema.parse({});
    const outcomes: Record<string, number> = {};
    for (let index = 0; index < VARIANTS; index += 20) {
      const { name, bytes, mutation } = variant(index);
      // The sample's dates, shifted per variant so that every run has its own partition.
      const day = new Date(Date.UTC(2024, 5, 1 + index / 20)).toISOString().slice(0, 10);
      // Text variants are moved to the run's day; gzip and Parquet keep the sample's (a warning only).
      const binary = name.endsWith('.gz') || name.endsWith('.parquet');
      await lake.put(`bronze/rides/date=${day}/${name}`, binary ? bytes : Buffer.from(bytes.toString('latin1').replaceAll(DAY, day), 'latin1'));
      const outcome = await runPipeline(lake, store, config, 'rides', [day]).then(
        () => 'ok',
        (error: unknown) => {
          if (!(error instanceof InputError || error instanceof QualityGateError)) throw new Error(`${mutation}: ${String(error)}`, { cause: error });
          expect(error.message.length, mutation).toBeLessThanOrEqual(300);
          return error.name;
        },
      );
      if (outcome !== 'ok') {
        const [latest] = await store.listRuns({ pipeline: 'rides', limit: 1 });
        const steps = await store.listSteps(latest.id);
        expect(steps.filter((step) => step.status === 'failed').map((step) => step.attempts), mutation).toEqual([1]);
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    console.log(`input fuzz through the pipeline: ${Math.ceil(VARIANTS / 20)} variants, outcomes ${JSON.stringify(outcomes)}`);
  }, 180_000);
});
