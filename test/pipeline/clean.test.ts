import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineLayout, type RunParams } from '../../src/pipeline/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

const CONFIG = DetourConfigSchema.parse({});
const DAY = '2024-04-01';
const LAYOUT = pipelineLayout('rides', CONFIG.pipelines.rides, DAY);
const HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';

/** A ride of the day as a CSV line; distances and times vary a little so that DBSCAN finds a cluster. */
function csvRide(id: string, index: number): string {
  return `${id},T${index % 7},${DAY} 08:00:00,${DAY} 08:15:00,${(2 + (index % 10) * 0.1).toFixed(1)},${10 + (index % 7)}`;
}

/** A lake, run store and engine of a describe block's own: opened before its tests (handed to `use`), closed after. */
function openWorkspace(tempPrefix: string, use: (opened: { lake: FsLake; store: Store; engine: Engine }) => void): void {
  let opened: { lake: FsLake; store: Store; engine: Engine };
  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), tempPrefix));
    opened = { lake: new FsLake(path.join(root, 'lake')), store: await openStore({ stateDir: path.join(root, 'state') }), engine: await openEngine() };
    use(opened);
  });
  afterAll(async () => {
    await opened.engine.close();
    await opened.store.close();
  });
}

describe('the clean step', () => {
  let lake: FsLake;
  let store: Store;
  let engine: Engine;
  const run = () => runPipeline(lake, store, CONFIG, 'rides', [DAY]);
  const silverRows = (sql: string) => engine.rows(sql.replace('silver', 'read_parquet($1, hive_partitioning = false)'), [lake.localPath(LAYOUT.silver) as string]);

  openWorkspace('detour-clean-', (opened) => ({ lake, store, engine } = opened));
  beforeAll(async () => {
    // One day in two files: text and typed Parquet, neither with the sample's optional label columns.
    const good = Array.from({ length: 40 }, (_, i) => csvRide(`A${String(i).padStart(2, '0')}`, i));
    await lake.put(`${LAYOUT.input}a.csv`, [HEADER, ...good.slice(0, 20), csvRide('A99', 3).replace(',2.3,', ',-2.3,'), ...good.slice(20)].join('\n'));
    await engine.exportQuery(
      `SELECT 'B' || lpad(CAST(i AS VARCHAR), 2, '0') AS ride_id, 'T' || (i % 5) AS taxi_id, TIMESTAMP '${DAY} 09:00:00' AS pickup_ts,
        TIMESTAMP '${DAY} 09:12:00' AS dropoff_ts, 2.0 + (i % 10) / 10 AS ride_dist_km, 11 + i % 6 AS ride_time_min
      FROM range(30) AS rides(i)`,
      lake,
      `${LAYOUT.input}b.parquet`,
      'parquet',
    );
  });

  let silverBytes: Buffer;
  let quarantineBytes: Buffer;

  it('writes silver with the schema columns in order and typed, rows in file then row order, a missing optional column as typed NULL', async () => {
    const { run: record, summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 71, rows_valid: 70, rows_quarantined: 1, quarantine_reasons: { 'negative ride_dist_km': 1 } });
    expect(summary.outputs.quarantine).toBe(LAYOUT.quarantine);
    // Schema order is the order of the run's stored params (the run store keeps them as JSONB, which orders keys its own way).
    const schema = (record.params as unknown as RunParams).dataset.columns;
    const sqlTypes = { string: 'VARCHAR', number: 'DOUBLE', timestamp: 'TIMESTAMP' };
    const columns = await silverRows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM silver)`);
    expect(columns).toEqual(Object.entries(schema).map(([name, column]) => ({ column_name: name, column_type: sqlTypes[column.type] })));
    expect(columns).toHaveLength(8);
    const rows = await silverRows(`SELECT ride_id, ride_dist_km, is_injected_anomaly, injected_kind FROM silver`);
    expect(rows.map((row) => row.ride_id)).toEqual([
      ...Array.from({ length: 40 }, (_, i) => `A${String(i).padStart(2, '0')}`),
      ...Array.from({ length: 30 }, (_, i) => `B${String(i).padStart(2, '0')}`),
    ]);
    expect(rows[41]).toEqual({ ride_id: 'B01', ride_dist_km: 2.1, is_injected_anomaly: null, injected_kind: null });
    silverBytes = await lake.get(LAYOUT.silver);
    quarantineBytes = await lake.get(LAYOUT.quarantine);
  });

  it('writes the same bytes again on a rerun, and deletes the quarantine once a rerun has no rejects', async () => {
    await run();
    expect(await lake.get(LAYOUT.silver)).toEqual(silverBytes);
    expect(await lake.get(LAYOUT.quarantine)).toEqual(quarantineBytes);

    const fixed = (await lake.get(`${LAYOUT.input}a.csv`)).toString().replace(',-2.3,', ',2.3,');
    await lake.put(`${LAYOUT.input}a.csv`, fixed);
    const { summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 71, rows_valid: 71, rows_quarantined: 0, quarantine_reasons: {} });
    expect(summary.outputs.quarantine).toBeNull();
    expect(await lake.exists(LAYOUT.quarantine)).toBe(false);
  });
});

describe('the clean step on corrupt and flawed files', () => {
  const day = '2024-04-02';
  const layout = pipelineLayout('rides', CONFIG.pipelines.rides, day);
  let lake: FsLake;
  let store: Store;
  let engine: Engine;
  const run = () => runPipeline(lake, store, CONFIG, 'rides', [day]);
  const rides = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => csvRide(`${prefix}${String(i).padStart(3, '0')}`, i).replaceAll(DAY, day));
  const quarantined = async () =>
    engine.rows<{ ride_id: string | null; _source_file: string; _source_row: number | null; _reason: string }>(
      `SELECT ride_id, _source_file, _source_row, _reason FROM read_parquet($1)`,
      [lake.localPath(layout.quarantine) as string],
    );
  const silverIds = async () => (await engine.rows<{ ride_id: string }>(`SELECT ride_id FROM read_parquet($1)`, [lake.localPath(layout.silver) as string])).map((row) => row.ride_id);
  const clear = async () => {
    for (const object of await lake.list(layout.input)) await lake.delete(object.key);
  };

  openWorkspace('detour-clean-corrupt-', (opened) => ({ lake, store, engine } = opened));

  it.each([
    ['a truncated gzip', (gz: Buffer) => gz.subarray(0, Math.floor(gz.length / 2))],
    ['a gzip failing its CRC', (gz: Buffer) => Buffer.concat([gz.subarray(0, gz.length - 8), Buffer.from([gz[gz.length - 8] ^ 0xff]), gz.subarray(gz.length - 7)])],
  ])('quarantines %s as one record naming its lake key and publishes the rest of the day', async (_, damage) => {
    await clear();
    await lake.put(`${layout.input}good.csv`, [HEADER, ...rides('G', 30)].join('\n'));
    const gz = gzipSync([HEADER, ...rides('Z', 500)].join('\n'));
    await lake.put(`${layout.input}bad.csv.gz`, damage(gz));
    const { summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 31, rows_valid: 30, rows_quarantined: 1, quarantine_reasons: { 'corrupt file': 1 } });
    const [record] = await quarantined();
    expect(record).toMatchObject({ ride_id: null, _source_file: `${layout.input}bad.csv.gz`, _source_row: null });
    expect(record._reason).toMatch(new RegExp(`^corrupt file: ${layout.input}bad\\.csv\\.gz: cannot read as csv: `));
    expect((await silverIds()).every((id) => id.startsWith('G'))).toBe(true);
  });

  it('fails a day whose only file is corrupt Parquet with an input error naming the lake key, not a staging path', async () => {
    await clear();
    await engine.exportQuery(
      `SELECT 'P' || i AS ride_id, 'T1' AS taxi_id, TIMESTAMP '${day} 09:00:00' AS pickup_ts, TIMESTAMP '${day} 09:12:00' AS dropoff_ts, 2.0 + i / 1000 AS ride_dist_km, 11.0 + i % 7 AS ride_time_min FROM range(2000) AS t(i)`,
      lake,
      `${layout.input}rides.parquet`,
      'parquet',
    );
    const bytes = Buffer.from(await lake.get(`${layout.input}rides.parquet`));
    for (let offset = 200; offset < bytes.length - 400; offset += 97) bytes[offset] ^= 0x5a;
    await lake.put(`${layout.input}rides.parquet`, bytes);
    const failure = run();
    await expect(failure).rejects.toThrow(InputError);
    const error = (await failure.catch((caught: unknown) => caught)) as Error;
    expect(error.message).toContain(`${layout.input}rides.parquet`);
    expect(error.message).not.toMatch(/staged-|\/tmp\//);
    expect(error.message.length).toBeLessThanOrEqual(300);
  });

  it('quarantines a corrupt Parquet file beside good ones and publishes only the good files, each row with its own file', async () => {
    await clear();
    const parquet = (prefix: string, key: string) =>
      engine.exportQuery(
        `SELECT '${prefix}' || i AS ride_id, 'T1' AS taxi_id, TIMESTAMP '${day} 09:00:00' AS pickup_ts, TIMESTAMP '${day} 09:12:00' AS dropoff_ts, 2.0 + i / 1000 AS ride_dist_km, 11.0 + i % 7 AS ride_time_min FROM range(500) AS t(i)`,
        lake,
        `${layout.input}${key}`,
        'parquet',
      );
    await parquet('A', 'a.parquet');
    await parquet('B', 'b.parquet');
    await parquet('C', 'c.parquet');
    const bytes = Buffer.from(await lake.get(`${layout.input}b.parquet`));
    await lake.put(`${layout.input}b.parquet`, bytes.subarray(0, bytes.length - 40));
    const { summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 1001, rows_valid: 1000, rows_quarantined: 1, quarantine_reasons: { 'corrupt file': 1 } });
    const [record] = await quarantined();
    expect(record).toMatchObject({ _source_file: `${layout.input}b.parquet`, _source_row: null });
    const ids = await silverIds();
    expect(ids.filter((id) => id.startsWith('B'))).toEqual([]);
    expect(ids[0]).toBe('A0');
    expect(ids[500]).toBe('C0');
  });

  it('numbers every quarantined record by its record number in the file, header not counted, malformed lines included', async () => {
    await clear();
    const good = rides('R', 6);
    const lines = [HEADER, good[0], 'R900,T1', good[1], good[2].replace(',2.2,', ',-2.2,'), 'R901', good[3], good[4].replace(',2.4,', ',abc,'), good[5]];
    await lake.put(`${layout.input}rides.csv`, lines.join('\n'));
    const { summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 8, rows_valid: 4, rows_quarantined: 4 });
    expect((await quarantined()).map((row) => row._source_row)).toEqual([2, 4, 5, 7]);
  });
});

describe('the clean step on files with one flaw', () => {
  const day = '2024-04-03';
  const layout = pipelineLayout('rides', CONFIG.pipelines.rides, day);
  let lake: FsLake;
  let store: Store;
  let engine: Engine;
  const run = () => runPipeline(lake, store, CONFIG, 'rides', [day]);
  const rides = (count: number) => Array.from({ length: count }, (_, i) => csvRide(`F${String(i).padStart(3, '0')}`, i).replaceAll(DAY, day));
  const jsonRide = (line: string, quoteNumbers: boolean) => {
    const [ride_id, taxi_id, pickup_ts, dropoff_ts, dist, time] = line.split(',');
    const number = (value: string) => (quoteNumbers ? value : Number(value));
    return JSON.stringify({ ride_id, taxi_id, pickup_ts, dropoff_ts, ride_dist_km: number(dist), ride_time_min: number(time) });
  };
  const put = async (name: string, body: string | Buffer) => {
    for (const object of await lake.list(layout.input)) await lake.delete(object.key);
    await lake.put(`${layout.input}${name}`, body);
  };
  const reasons = async () =>
    engine.rows<{ _source_row: number; _reason: string }>(`SELECT _source_row, _reason FROM read_parquet($1)`, [lake.localPath(layout.quarantine) as string]);

  openWorkspace('detour-clean-flaw-', (opened) => ({ lake, store, engine } = opened));

  it('reads mixed CRLF and LF line ends, and a stray CR, as line ends', async () => {
    const lines = [HEADER, ...rides(20)];
    await put('mixed.csv', lines.map((line, i) => `${line}${i % 2 ? '\r\n' : '\n'}`).join(''));
    expect((await run()).summaries[0]).toMatchObject({ rows_read: 20, rows_valid: 20, rows_quarantined: 0 });
    await put('stray.csv', `${lines.slice(0, 10).join('\n')}\r${lines.slice(10).join('\n')}\n`);
    expect((await run()).summaries[0]).toMatchObject({ rows_read: 20, rows_valid: 20, rows_quarantined: 0 });
  });

  it('quarantines one broken JSON line alone, by its line number', async () => {
    const lines = rides(20).map((line) => jsonRide(line, false));
    lines[6] = lines[6].slice(0, 30);
    await put('rides.jsonl', `${lines.join('\n')}\n`);
    expect((await run()).summaries[0]).toMatchObject({ rows_read: 20, rows_valid: 19, rows_quarantined: 1, quarantine_reasons: { 'malformed line': 1 } });
    expect(await reasons()).toEqual([{ _source_row: 7, _reason: 'malformed JSON line: not valid JSON' }]);
  });

  it('reads a gzip CSV with mixed line ends, and a gzip JSON lines file with one broken line, as their plain forms', async () => {
    const lines = [HEADER, ...rides(20)];
    await put('mixed.csv.gz', gzipSync(lines.map((line, i) => `${line}${i % 2 ? '\r\n' : '\n'}`).join('')));
    expect((await run()).summaries[0]).toMatchObject({ rows_read: 20, rows_valid: 20, rows_quarantined: 0 });
    const json = rides(20).map((line) => jsonRide(line, false));
    json[6] = json[6].slice(0, 30);
    await put('rides.jsonl.gz', gzipSync(`${json.join('\n')}\n`));
    expect((await run()).summaries[0]).toMatchObject({ rows_read: 20, rows_valid: 19, rows_quarantined: 1 });
    expect(await reasons()).toEqual([{ _source_row: 7, _reason: 'malformed JSON line: not valid JSON' }]);
  });

  it('accepts JSON numbers given as strings or as numbers, row by row', async () => {
    const lines = rides(20).map((line, i) => jsonRide(line, i !== 4));
    await put('rides.jsonl', `${lines.join('\n')}\n`);
    expect((await run()).summaries[0]).toMatchObject({ rows_read: 20, rows_valid: 20, rows_quarantined: 0 });
  });
});
