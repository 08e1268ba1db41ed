import { createHash } from 'node:crypto';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { openEngine } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { ingestFile, ingestPartitionedFile, type ManifestEntry, type UnplacedReport } from '../../src/pipeline/index.js';
import { generateRidesCsv } from '../../src/sample/index.js';
import { openStore } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

let dir: string;
let lake: FsLake;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'detour-ingest-'));
  lake = new FsLake(path.join(dir, 'lake'));
});

describe('ingest', () => {

  it('lands a file unchanged with a manifest entry, and a second ingest is a no-op', async () => {
    const file = path.join(dir, 'rides.csv.gz');
    const bytes = gzipSync('ride_id,taxi_id\nR1,T1\n');
    await writeFile(file, bytes);
    const now = new Date('2024-01-02T03:04:05Z');
    const first = await ingestFile(lake, { dataset: 'rides', file, logicalDate: '2024-01-01', now });
    expect(first).toMatchObject({ key: 'bronze/rides/date=2024-01-01/rides.csv.gz', ingested: true });
    expect(await lake.get(first.key)).toEqual(bytes);
    const manifest = JSON.parse((await lake.get('bronze/rides/date=2024-01-01/_manifest.json')).toString()) as ManifestEntry[];
    expect(manifest).toEqual([{ file: 'rides.csv.gz', source: file, size: bytes.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), ingestedAt: now.toISOString() }]);

    const again = await ingestFile(lake, { dataset: 'rides', file, logicalDate: '2024-01-01' });
    expect(again.ingested).toBe(false);
    expect(again.entry.ingestedAt).toBe(now.toISOString());
  });

  it('refuses different content under the same name unless asked to replace', async () => {
    const file = path.join(dir, 'flights.parquet');
    await writeFile(file, 'version one');
    await ingestFile(lake, { dataset: 'flights', file, logicalDate: '2024-01-01' });
    await writeFile(file, 'version two');
    await expect(ingestFile(lake, { dataset: 'flights', file, logicalDate: '2024-01-01' })).rejects.toThrow(/already holds different content .* pass --replace/);
    const replaced = await ingestFile(lake, { dataset: 'flights', file, logicalDate: '2024-01-01', replace: true });
    expect(replaced.ingested).toBe(true);
    expect((await lake.get(replaced.key)).toString()).toBe('version two');
    const manifest = JSON.parse((await lake.get('bronze/flights/date=2024-01-01/_manifest.json')).toString()) as ManifestEntry[];
    expect(manifest).toHaveLength(1);
  });

  it.each<[{ file?: string; dataset?: string }, RegExp]>([
    [{ file: 'missing.csv' }, /file not found/],
    [{ file: '@notes.docx' }, /expected CSV, JSON lines or Parquet/],
    [{ dataset: 'Bad-Name' }, /must be lower_snake_case/],
  ])('rejects bad input: %o', async (override, message) => {
    await writeFile(path.join(dir, 'notes.docx'), 'x');
    await writeFile(path.join(dir, 'ok.csv'), 'a\n1\n');
    const file = override.file === undefined ? path.join(dir, 'ok.csv') : override.file.startsWith('@') ? path.join(dir, override.file.slice(1)) : path.join(dir, override.file);
    const attempt = ingestFile(lake, { dataset: override.dataset ?? 'rides', file, logicalDate: '2024-01-01' });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(message);
  });
});

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Sample rides of three days in one CSV, the last two days' lines interleaved. */
function threeDayRidesCsv(ridesPerDay: number): { csv: string; header: string; linesOf: (date: string) => string[] } {
  const days = ['2024-05-01', '2024-05-02', '2024-05-03'].map((date) => generateRidesCsv(date, ridesPerDay, 11).trimEnd().split('\n'));
  const header = days[0][0];
  const [first, second, third] = days.map((lines) => lines.slice(1));
  const interleaved = second.flatMap((line, index) => [line, third[index]]);
  const csv = `${[header, ...first, ...interleaved].join('\n')}\n`;
  return { csv, header, linesOf: (date) => [...first, ...second, ...third].filter((line) => line.split(',')[2].startsWith(date)) };
}

describe('ingest --partition-by', () => {
  const manifestOf = async (date: string, dataset = 'rides') => JSON.parse((await lake.get(`bronze/${dataset}/date=${date}/_manifest.json`)).toString()) as ManifestEntry[];

  it('splits a CSV into one partition per date: the header plus that date\'s lines, byte for byte and in file order', async () => {
    const { csv, header, linesOf } = threeDayRidesCsv(300);
    const file = path.join(dir, 'rides-may.csv');
    await writeFile(file, csv);
    const now = new Date('2024-06-01T00:00:00Z');
    const result = await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts', now });

    expect(result.partitions.map((partition) => [partition.key, partition.entry.rows, partition.ingested])).toEqual([
      ['bronze/rides/date=2024-05-01/rides-may.csv', 300, true],
      ['bronze/rides/date=2024-05-02/rides-may.csv', 300, true],
      ['bronze/rides/date=2024-05-03/rides-may.csv', 300, true],
    ]);
    for (const partition of result.partitions) {
      const bytes = await lake.get(partition.key);
      expect(bytes.toString()).toBe(`${[header, ...linesOf(partition.logicalDate)].join('\n')}\n`);
      expect(await manifestOf(partition.logicalDate)).toEqual([
        { file: 'rides-may.csv', source: file, size: bytes.length, sha256: sha256(bytes), ingestedAt: now.toISOString(), sourceSha256: sha256(csv), rows: 300 },
      ]);
    }
    expect(result).toMatchObject({ source: file, sourceSha256: sha256(csv), unplaced: null });
  });

  it('keeps CRLF line endings, quoted delimiters and quoted line breaks as they were', async () => {
    const lines = ['id;note;ts', '1;"a;b";2024-01-01 10:00', '2;"two\r\nlines ""quoted""";2024-01-02T00:30:00+05:00', '', '3;plain;2024-01-01'];
    const file = path.join(dir, 'notes.csv');
    await writeFile(file, `${lines.join('\r\n')}\r\n`);
    const result = await ingestPartitionedFile(lake, { dataset: 'notes', file, partitionBy: 'ts' });
    expect(result.partitions.map((partition) => partition.entry.rows)).toEqual([2, 1]);
    // The blank line carries no row and is left out.
    expect((await lake.get('bronze/notes/date=2024-01-01/notes.csv')).toString()).toBe('id;note;ts\r\n1;"a;b";2024-01-01 10:00\r\n3;plain;2024-01-01\r\n');
    expect((await lake.get('bronze/notes/date=2024-01-02/notes.csv')).toString()).toBe('id;note;ts\r\n2;"two\r\nlines ""quoted""";2024-01-02T00:30:00+05:00\r\n');
  });

  it('splits a gzipped CSV into gzipped partitions', async () => {
    const { csv, header, linesOf } = threeDayRidesCsv(200);
    const file = path.join(dir, 'rides-may.csv.gz');
    await writeFile(file, gzipSync(csv));
    const result = await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts' });
    expect(result.partitions.map((partition) => partition.key)).toEqual(['2024-05-01', '2024-05-02', '2024-05-03'].map((date) => `bronze/rides/date=${date}/rides-may.csv.gz`));
    for (const partition of result.partitions) {
      expect(gunzipSync(await lake.get(partition.key)).toString()).toBe(`${[header, ...linesOf(partition.logicalDate)].join('\n')}\n`);
    }
  });

  it('splits JSON lines line for line, by the date as written (no time zone conversion)', async () => {
    const lines = ['{"id":1,"ts":"2024-01-01T23:30:00-05:00"}', '{"id":2,"ts":"2024-01-02"}', '{"id":3,"ts":"2024-01-01 08:00:00"}'];
    const file = path.join(dir, 'events.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);
    const result = await ingestPartitionedFile(lake, { dataset: 'events', file, partitionBy: 'ts' });
    expect(result.partitions.map((partition) => [partition.logicalDate, partition.entry.rows])).toEqual([['2024-01-01', 2], ['2024-01-02', 1]]);
    expect((await lake.get('bronze/events/date=2024-01-01/events.jsonl')).toString()).toBe(`${lines[0]}\n${lines[2]}\n`);
    expect((await lake.get('bronze/events/date=2024-01-02/events.jsonl')).toString()).toBe(`${lines[1]}\n`);
  });

  it('rewrites Parquet rows per date with the same schema and row order', async () => {
    const file = path.join(dir, 'trips.parquet');
    const engine = await openEngine();
    try {
      await engine.run(
        `COPY (SELECT * FROM (VALUES (1, TIMESTAMP '2024-01-02 09:00', 1.5), (2, TIMESTAMP '2024-01-01 23:59', 2.5), (3, TIMESTAMP '2024-01-02 01:00', 3.5)) AS t(id, started_at, km))
         TO $1 (FORMAT parquet)`,
        [file],
      );
      const result = await ingestPartitionedFile(lake, { dataset: 'trips', file, partitionBy: 'started_at' });
      expect(result.partitions.map((partition) => [partition.key, partition.entry.rows])).toEqual([
        ['bronze/trips/date=2024-01-01/trips.parquet', 1],
        ['bronze/trips/date=2024-01-02/trips.parquet', 2],
      ]);
      const read = (key: string) => engine.rows(`SELECT id, km FROM read_parquet($1, hive_partitioning = false)`, [lake.localPath(key) as string]);
      expect(await read(result.partitions[1].key)).toEqual([{ id: 1, km: 1.5 }, { id: 3, km: 3.5 }]);
      const schema = (parquet: string) => engine.rows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet($1, hive_partitioning = false))`, [parquet]);
      expect(await schema(lake.localPath(result.partitions[0].key) as string)).toEqual(await schema(file));
    } finally {
      await engine.close();
    }
  });

  it('is a no-op per partition the second time, refuses changed content without --replace, and replaces only what changed', async () => {
    const { csv } = threeDayRidesCsv(100);
    const file = path.join(dir, 'rides.csv');
    await writeFile(file, csv);
    const first = await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts', now: new Date('2024-06-01T00:00:00Z') });
    const again = await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts' });
    expect(again.partitions.map((partition) => partition.ingested)).toEqual([false, false, false]);
    expect(again.partitions.map((partition) => partition.entry)).toEqual(first.partitions.map((partition) => partition.entry));

    // One ride of the first day changes: only that partition differs.
    const changedLine = csv.split('\n')[1];
    await writeFile(file, csv.replace(changedLine, changedLine.replace(/,0,$/, ',1,long_time')));
    const attempt = ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts' });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(/^bronze\/rides\/date=2024-05-01\/rides\.csv already holds different content .*; pass --replace to overwrite it$/);
    expect((await manifestOf('2024-05-01'))[0].sha256).toBe(first.partitions[0].entry.sha256);

    const replaced = await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts', replace: true });
    expect(replaced.partitions.map((partition) => partition.ingested)).toEqual([true, false, false]);
  });

  it('refuses a file with rows that have no date, naming the first and the count, and writes nothing', async () => {
    const file = path.join(dir, 'rides.csv');
    await writeFile(file, 'ride_id,pickup_ts\nR1,2024-01-01 10:00\nR2,\nR3,yesterday\nR4,2024-02-30 10:00\n');
    const attempt = ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts' });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(/^--file rides\.csv: 3 rows cannot be placed by pickup_ts, the first at line 3: pickup_ts is empty; .*--skip-unplaceable/);
    expect(await lake.list('')).toEqual([]);
  });

  it('with skipUnplaceable lands the rest and keeps the others, listed with line and reason, under _unplaced/', async () => {
    const file = path.join(dir, 'rides.csv');
    await writeFile(file, 'ride_id,pickup_ts\nR1,2024-01-01 10:00\nR2,\nR3,yesterday\nR4,2024-01-01 11:00\n');
    const result = await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts', skipUnplaceable: true });
    expect(result.partitions.map((partition) => [partition.key, partition.entry.rows])).toEqual([['bronze/rides/date=2024-01-01/rides.csv', 2]]);
    expect(result.unplaced).toEqual({ rows: 2, key: 'bronze/rides/_unplaced/rides.csv', reportKey: 'bronze/rides/_unplaced/rides.csv.json' });
    expect((await lake.get('bronze/rides/_unplaced/rides.csv')).toString()).toBe('ride_id,pickup_ts\nR2,\nR3,yesterday\n');
    const report = JSON.parse((await lake.get('bronze/rides/_unplaced/rides.csv.json')).toString()) as UnplacedReport;
    expect(report).toMatchObject({ source: file, column: 'pickup_ts', file: 'bronze/rides/_unplaced/rides.csv', rows: 2 });
    expect(report.unplaced).toEqual([
      { line: 3, value: '', reason: 'empty' },
      { line: 4, value: 'yesterday', reason: 'not a date' },
    ]);
  });

  it.each<[string, string, RegExp]>([
    ['rides.csv', 'ride_id,pickup_ts\nR1,2024-01-01\n', /^--file rides\.csv: no column started_at \(columns: ride_id, pickup_ts\)$/],
    ['events.jsonl', '{"started_at":"2024-01-01"}\nnot json\n', /^--file events\.jsonl: 1 row cannot be placed by started_at, the first at line 2: not a JSON object; /],
    ['header-only.csv', 'ride_id,started_at\n', /^--file header-only\.csv: no row has a date in started_at, nothing to land$/],
    ['rides.csv.zst', 'x', /--partition-by reads plain or \.gz CSV and JSON lines, and plain Parquet/],
  ])('rejects %s as bad input', async (name, content, message) => {
    const file = path.join(dir, name);
    await writeFile(file, content);
    const attempt = ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'started_at' });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('lands partitions the rides pipeline runs over', async () => {
    const { csv } = threeDayRidesCsv(3_000);
    const file = path.join(dir, 'rides-may.csv');
    await writeFile(file, csv);
    await ingestPartitionedFile(lake, { dataset: 'rides', file, partitionBy: 'pickup_ts' });
    expect(await readdir(path.join(dir, 'lake/bronze/rides'))).toEqual(['date=2024-05-01', 'date=2024-05-02', 'date=2024-05-03']);
    const store = await openStore({ stateDir: path.join(dir, 'state') });
    try {
      const dates = ['2024-05-01', '2024-05-02', '2024-05-03'];
      const result = await runPipeline(lake, store, DetourConfigSchema.parse({}), 'rides', dates);
      expect(result.run.status).toBe('succeeded');
      expect(result.summaries.map((summary) => [summary.logical_date, summary.rows_read, summary.rows_quarantined])).toEqual(dates.map((date) => [date, 3_000, 0]));
    } finally {
      await store.close();
    }
  });
});
