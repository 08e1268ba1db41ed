import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEngine, readInputTable, type Engine } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { validateRows, type TypedColumn } from '../../src/quality/index.js';
import { RIDE_ROW_RULES } from '../helpers/fixtures.js';

const RULES = RIDE_ROW_RULES;

const PARTITION = 'bronze/rides/date=2024-01-01/';
const COLUMNS: TypedColumn[] = [
  { name: 'ride_id', from: 'ride_id', type: 'string' },
  { name: 'taxi_id', from: 'taxi_id', type: 'string' },
  { name: 'ride_dist_km', from: 'ride_dist_km', type: 'number' },
];

const HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';
const MESSY_CSV = [
  HEADER,
  'R1,T1,2024-01-01 08:00:00,2024-01-01 08:10:00,3.2,10',
  'R2,T1,2024-01-01 08:00:00,2024-01-01 08:10:00,abc,10', // non-numeric
  'R3,T2,2024-01-01 08:00:00,2024-01-01 08:10:00,-1.5,10', // negative
  'R4,T2,2024-01-01 08:00:00,2024-01-01 08:10:00,NaN,10', // not finite
  'R5,T3,2024-01-01 08:00:00,2024-01-01 08:10:00,2.0,Infinity', // not finite
  'R6,,2024-01-01 08:00:00,2024-01-01 08:10:00,2.0,7', // missing taxi
  'R1,T9,2024-01-01 09:00:00,2024-01-01 09:10:00,1.0,5', // duplicate of R1
  'R7,T4,not-a-time,2024-01-01 08:10:00,2.0,7', // bad timestamp
  'R8,T4,2024-01-01 08:00:00,2024-01-01 07:00:00,2.0,7', // dropoff before pickup
  'R9,T5,2024-01-01 08:00:00', // too few columns
  'R10,T5,2024-01-01 08:00:00,2024-01-01 08:10:00,2.5,12',
  ',T6,2024-01-01 08:00:00,2024-01-01 08:10:00,2.5,12', // missing id
].join('\n');

describe('row validation and quarantine', () => {
  let engine: Engine;
  let lake: FsLake;
  beforeEach(async () => {
    engine = await openEngine();
    lake = new FsLake(await mkdtemp(path.join(os.tmpdir(), 'detour-quality-')));
  });
  afterEach(async () => {
    await engine.close();
  });

  it('keeps valid rows typed and quarantines every bad one with its reason', async () => {
    await lake.put('bronze/rides/date=2024-01-01/part-0.csv', MESSY_CSV);
    const input = await readInputTable(engine, lake, await lake.list('bronze/rides/date=2024-01-01/'), {
      table: 'rides',
      format: 'auto',
      requiredColumns: ['ride_id', 'taxi_id', 'pickup_ts', 'dropoff_ts', 'ride_dist_km', 'ride_time_min'],
    });
    expect(await engine.rows(`SELECT count(*) AS rows FROM ${input.table}`)).toEqual([{ rows: 11 }]);
    expect(await engine.rows(`SELECT count(*) AS rows FROM ${input.malformedTable}`)).toEqual([{ rows: 1 }]);

    const result = await validateRows(engine, input, RULES);
    expect(result.rowsRead).toBe(12);
    expect(result.rowsValid).toBe(2);
    expect(result.rowsQuarantined).toBe(10);
    expect(result.rowsValid + result.rowsQuarantined).toBe(result.rowsRead);
    expect(result.reasonCounts).toEqual({
      'non-numeric ride_dist_km': 1,
      'negative ride_dist_km': 1,
      'non-finite ride_dist_km': 1,
      'non-finite ride_time_min': 1,
      'missing taxi_id': 1,
      'duplicate ride_id': 1,
      'invalid timestamp pickup_ts': 1,
      'dropoff_ts before pickup_ts': 1,
      'missing ride_id': 1,
      'malformed line': 1,
    });

    const validRows = result.validRows(PARTITION, COLUMNS);
    const valid = await engine.rows(`SELECT ride_id, taxi_id, ride_dist_km, typeof(ride_dist_km) AS type FROM (${validRows.sql}) ORDER BY ride_id`, validRows.params);
    expect(valid).toEqual([
      { ride_id: 'R1', taxi_id: 'T1', ride_dist_km: 3.2, type: 'DOUBLE' },
      { ride_id: 'R10', taxi_id: 'T5', ride_dist_km: 2.5, type: 'DOUBLE' },
    ]);
    const rejectedRows = result.rejectedRows(PARTITION);
    const quarantined = await engine.rows<{ ride_id: string | null; _source_file: string; _source_row: number; _reason: string; _raw_line: string | null }>(
      `SELECT ride_id, _source_file, _source_row, _reason, _raw_line FROM (${rejectedRows.sql}) ORDER BY _source_row`,
      rejectedRows.params,
    );
    const reasonOf = (rideId: string) => quarantined.find((row) => row.ride_id === rideId)?._reason;
    expect(reasonOf('R2')).toBe('non-numeric ride_dist_km (abc)');
    expect(reasonOf('R3')).toBe('negative ride_dist_km (-1.5)');
    expect(reasonOf('R6')).toBe('missing taxi_id');
    expect(reasonOf('R8')).toBe('dropoff_ts before pickup_ts');
    // The later R1 is the duplicate; the first, valid one stays.
    const duplicate = quarantined.find((row) => row._reason.startsWith('duplicate'));
    expect(duplicate).toMatchObject({ ride_id: 'R1', _source_row: 7, _source_file: 'bronze/rides/date=2024-01-01/part-0.csv' });
    const malformed = quarantined.find((row) => row._raw_line !== null);
    expect(malformed?._raw_line).toBe('R9,T5,2024-01-01 08:00:00');
    expect(malformed?._reason).toMatch(/^malformed CSV line: missing columns/);
  });

  it('reads CSV and Parquet files of one partition together and skips empty files', async () => {
    await lake.put('bronze/rides/date=2024-01-02/a.csv', `${HEADER}\nA1,T1,2024-01-02 08:00:00,2024-01-02 08:10:00,1,5\n`);
    await lake.put('bronze/rides/date=2024-01-02/empty.csv', '');
    await engine.exportQuery(
      `SELECT 'P1' AS ride_id, 'T2' AS taxi_id, TIMESTAMP '2024-01-02 09:00:00' AS pickup_ts, TIMESTAMP '2024-01-02 09:30:00' AS dropoff_ts, 7.5 AS ride_dist_km, 30.0 AS ride_time_min`,
      lake,
      'bronze/rides/date=2024-01-02/b.parquet',
      'parquet',
    );
    const input = await readInputTable(engine, lake, await lake.list('bronze/rides/date=2024-01-02/'), {
      table: 'rides',
      format: 'auto',
      requiredColumns: ['ride_id'],
    });
    expect(input.emptyFiles).toEqual(['bronze/rides/date=2024-01-02/empty.csv']);
    expect(input.files).toEqual([
      { key: 'bronze/rides/date=2024-01-02/a.csv', partition: 'bronze/rides/date=2024-01-02/' },
      { key: 'bronze/rides/date=2024-01-02/b.parquet', partition: 'bronze/rides/date=2024-01-02/' },
    ]);
    const result = await validateRows(engine, input, RULES);
    expect(result.rowsValid).toBe(2);
    // Valid rows come in file order, then row order.
    const validRows = result.validRows('bronze/rides/date=2024-01-02/', COLUMNS);
    expect(await engine.rows(validRows.sql, validRows.params)).toEqual([
      { ride_id: 'A1', taxi_id: 'T1', ride_dist_km: 1 },
      { ride_id: 'P1', taxi_id: 'T2', ride_dist_km: 7.5 },
    ]);
  });

  it('reads Parquet in its own types, converts values through their text only where the type differs, and quarantines those that do not convert', async () => {
    const partition = 'bronze/rides/date=2024-01-05/';
    await engine.exportQuery(
      `SELECT * FROM (VALUES
        ('R1', 'T1', DATE '2024-01-05', '2024-01-05 08:10:00', CAST(0.1 AS FLOAT), '3.5'),
        ('R2', 'T1', DATE '2024-01-05', '2024-01-05 08:10:00', CAST(0.2 AS FLOAT), 'abc'),
        ('R3', 'T1', DATE '2024-01-05', 'soon', CAST(0.3 AS FLOAT), '2'),
        ('R4', 'T1', DATE '2024-01-05', '2024-01-05 08:10:00', CAST('NaN' AS FLOAT), ' ')
      ) AS rides(ride_id, taxi_id, pickup_ts, dropoff_ts, ride_time_min, ride_dist_km)`,
      lake,
      `${partition}rides.parquet`,
      'parquet',
    );
    const input = await readInputTable(engine, lake, await lake.list(partition), { table: 'rides', format: 'auto', requiredColumns: [] });
    expect(input.columns.map((column) => column.type)).toEqual(['VARCHAR', 'VARCHAR', 'DATE', 'VARCHAR', 'FLOAT', 'VARCHAR']);
    const result = await validateRows(engine, input, RULES);
    expect(result.partitions[partition]).toEqual({
      rowsRead: 4,
      rowsValid: 1,
      rowsQuarantined: 3,
      reasonCounts: { 'invalid timestamp dropoff_ts': 1, 'missing ride_dist_km': 1, 'non-finite ride_time_min': 1, 'non-numeric ride_dist_km': 1 },
    });
    // A FLOAT 0.1 reaches silver as 0.1, as its text would, not as the double nearest the float.
    const validRows = result.validRows(partition, [
      ...COLUMNS,
      { name: 'time_min', from: 'ride_time_min', type: 'number' },
      { name: 'pickup', from: 'pickup_ts', type: 'timestamp' },
      { name: 'fare', from: 'fare', type: 'number' },
    ]);
    expect(await engine.rows(`SELECT ride_id, ride_dist_km, time_min, CAST(pickup AS VARCHAR) AS pickup, fare, typeof(fare) AS fare_type FROM (${validRows.sql})`, validRows.params)).toEqual([
      { ride_id: 'R1', ride_dist_km: 3.5, time_min: 0.1, pickup: '2024-01-05 00:00:00', fare: null, fare_type: 'DOUBLE' },
    ]);
    const rejectedRows = result.rejectedRows(partition);
    expect(await engine.rows(`SELECT ride_id, pickup_ts, ride_time_min, _source_row, _reason FROM (${rejectedRows.sql})`, rejectedRows.params)).toEqual([
      { ride_id: 'R2', pickup_ts: '2024-01-05', ride_time_min: '0.2', _source_row: 2, _reason: 'non-numeric ride_dist_km (abc)' },
      { ride_id: 'R3', pickup_ts: '2024-01-05', ride_time_min: '0.3', _source_row: 3, _reason: 'invalid timestamp dropoff_ts (soon)' },
      { ride_id: 'R4', pickup_ts: '2024-01-05', ride_time_min: 'nan', _source_row: 4, _reason: 'missing ride_dist_km; non-finite ride_time_min (nan)' },
    ]);
  });

  it('validates many partitions in one pass: ids are unique within a partition, counts are per partition', async () => {
    const row = (id: string, day: string) => `SELECT '${id}' AS ride_id, 'T1' AS taxi_id, TIMESTAMP '${day} 08:00:00' AS pickup_ts, TIMESTAMP '${day} 08:10:00' AS dropoff_ts, 1.5 AS ride_dist_km, 10.0 AS ride_time_min`;
    await engine.exportQuery(`${row('R1', '2024-01-06')} UNION ALL ${row('R1', '2024-01-06')}`, lake, 'bronze/rides/date=2024-01-06/rides.parquet', 'parquet');
    await engine.exportQuery(row('R1', '2024-01-07'), lake, 'bronze/rides/date=2024-01-07/rides.parquet', 'parquet');
    const objects = [...(await lake.list('bronze/rides/date=2024-01-07/')), ...(await lake.list('bronze/rides/date=2024-01-06/'))];
    const input = await readInputTable(engine, lake, objects, { table: 'rides', format: 'auto', requiredColumns: [] });
    expect(input.files.map((file) => file.partition)).toEqual(['bronze/rides/date=2024-01-06/', 'bronze/rides/date=2024-01-07/']);
    const result = await validateRows(engine, input, RULES);
    expect(result.partitions).toEqual({
      'bronze/rides/date=2024-01-06/': { rowsRead: 2, rowsValid: 1, rowsQuarantined: 1, reasonCounts: { 'duplicate ride_id': 1 } },
      'bronze/rides/date=2024-01-07/': { rowsRead: 1, rowsValid: 1, rowsQuarantined: 0, reasonCounts: {} },
    });
    const rejectedRows = result.rejectedRows('bronze/rides/date=2024-01-06/');
    expect(await engine.rows(`SELECT ride_id, _source_row, _reason FROM (${rejectedRows.sql})`, rejectedRows.params)).toEqual([
      { ride_id: 'R1', _source_row: 2, _reason: 'duplicate ride_id (R1)' },
    ]);
  });


  it("scans one partition's Parquet files alone with the types and rows of the whole input, whatever each file holds", async () => {
    // Day 12: an integer distance and no fare; day 13: a double distance and a fare. Read together, distance widens to DOUBLE.
    await engine.exportQuery(`SELECT * FROM (VALUES ('R1', 3), ('R2', -1), ('R3', 4)) AS rides(ride_id, ride_dist_km)`, lake, 'bronze/rides/date=2024-01-12/a.parquet', 'parquet');
    await engine.exportQuery(`SELECT * FROM (VALUES ('R5', 6)) AS rides(ride_id, ride_dist_km)`, lake, 'bronze/rides/date=2024-01-12/b.parquet', 'parquet');
    await engine.exportQuery(`SELECT * FROM (VALUES ('R1', 2.5::DOUBLE, 9.0::DOUBLE), ('R4', 1.5::DOUBLE, NULL)) AS rides(ride_id, ride_dist_km, fare)`, lake, 'bronze/rides/date=2024-01-13/a.parquet', 'parquet');
    const objects = [...(await lake.list('bronze/rides/date=2024-01-12/')), ...(await lake.list('bronze/rides/date=2024-01-13/'))];
    // Read in place, as clean first does; a nested column makes every scan a filter of the whole input.
    const inPlace = await readInputTable(engine, lake, objects, { table: 'rides', format: 'auto', requiredColumns: [], checkParquet: false });
    expect(inPlace.columns).toEqual([
      { name: 'ride_id', type: 'VARCHAR' },
      { name: 'ride_dist_km', type: 'DOUBLE' },
      { name: 'fare', type: 'DOUBLE' },
    ]);
    for (const files of [[0, 1], [2, 2], [0, 2]] as const) {
      const params: (string | number | readonly string[])[] = [];
      const scan = inPlace.scanFiles(files, (value) => `$${params.push(value)}`);
      expect(scan).toContain('read_parquet');
      const scanned = await engine.rows(`SELECT *, typeof(ride_dist_km) AS distance_type, typeof(fare) AS fare_type FROM ${scan}`, params);
      const filtered = await engine.rows(`SELECT *, typeof(ride_dist_km) AS distance_type, typeof(fare) AS fare_type FROM rides WHERE _file BETWEEN $1 AND $2`, [...files]);
      expect(scanned).toEqual(filtered);
      expect(scanned.length).toBeGreaterThan(0);
    }
    const result = await validateRows(engine, inPlace, { ...RULES, numericColumns: [{ name: 'ride_dist_km', min: 0 }], timestampColumns: [], requiredColumns: [], orderedTimestamps: [], optionalColumns: ['fare'] });
    const validRows = result.validRows('bronze/rides/date=2024-01-12/', [COLUMNS[0], COLUMNS[2], { name: 'fare', from: 'fare', type: 'number' }]);
    expect(await engine.rows(`SELECT *, typeof(ride_dist_km) AS distance_type FROM (${validRows.sql})`, validRows.params)).toEqual([
      { ride_id: 'R1', ride_dist_km: 3, fare: null, distance_type: 'DOUBLE' },
      { ride_id: 'R3', ride_dist_km: 4, fare: null, distance_type: 'DOUBLE' },
      { ride_id: 'R5', ride_dist_km: 6, fare: null, distance_type: 'DOUBLE' },
    ]);
    const rejectedRows = result.rejectedRows('bronze/rides/date=2024-01-12/');
    expect(await engine.rows(`SELECT ride_id, _source_file, _source_row, _reason FROM (${rejectedRows.sql})`, rejectedRows.params)).toEqual([
      { ride_id: 'R2', _source_file: 'bronze/rides/date=2024-01-12/a.parquet', _source_row: 2, _reason: 'negative ride_dist_km (-1.0)' },
    ]);

    await engine.exportQuery(`SELECT 'R6' AS ride_id, 1.0 AS ride_dist_km, {'zone': 4} AS place`, lake, 'bronze/rides/date=2024-01-14/a.parquet', 'parquet');
    const nested = await readInputTable(engine, lake, [...objects, ...(await lake.list('bronze/rides/date=2024-01-14/'))], { table: 'nested', format: 'auto', requiredColumns: [], checkParquet: false });
    const noParams = () => {
      throw new Error('a filter binds numbers only');
    };
    expect(nested.scanFiles([3, 3], (value) => (typeof value === 'number' ? String(value) : noParams()))).toBe('(SELECT * FROM "nested" WHERE _file BETWEEN 3 AND 3)');
  });
  it('counts repeated blank ids as missing, never as duplicates', async () => {
    const ride = (id: string) => `${id},T1,2024-01-08 08:00:00,2024-01-08 08:10:00,1.5,10`;
    await lake.put('bronze/rides/date=2024-01-08/part-0.csv', [HEADER, ride(''), ride('  '), ride('  '), ride('R1'), ride('R1')].join('\n'));
    const input = await readInputTable(engine, lake, await lake.list('bronze/rides/date=2024-01-08/'), { table: 'rides', format: 'auto', requiredColumns: [] });
    const result = await validateRows(engine, input, RULES);
    expect(result.partitions['bronze/rides/date=2024-01-08/']).toEqual({ rowsRead: 5, rowsValid: 1, rowsQuarantined: 4, reasonCounts: { 'missing ride_id': 3, 'duplicate ride_id': 1 } });
  });

  it('reads the CSV files of many days in one pass, each row with its own file and record number, a malformed line among them or not', async () => {
    const ride = (id: string, day: string, distKm: string) => `${id},T1,${day} 08:00:00,${day} 08:10:00,${distKm},10`;
    const days = ['2024-02-01', '2024-02-02', '2024-02-03'];
    const dayRides = [
      [ride('A1', days[0], '1.5'), ride('A2', days[0], 'abc'), ride('A3', days[0], '2')],
      [ride('B1', days[1], '1'), ride('B1', days[1], '2')],
      [ride('C1', days[2], '-3'), ride('C2', days[2], '4')],
    ];
    const check = async (malformedLine: boolean) => {
      for (const [index, day] of days.entries()) {
        const lines = [HEADER, ...dayRides[index]];
        if (malformedLine && index === 1) lines.splice(2, 0, 'B9,T1');
        await lake.put(`bronze/rides/date=${day}/rides.csv`, `${lines.join('\n')}\n`);
      }
      const objects = (await Promise.all(days.map((day) => lake.list(`bronze/rides/date=${day}/`)))).flat();
      const input = await readInputTable(engine, lake, objects, { table: 'rides', format: 'auto', requiredColumns: ['ride_id'] });
      const result = await validateRows(engine, input, RULES);
      const partition = (day: string) => `bronze/rides/date=${day}/`;
      expect(days.map((day) => result.partitions[partition(day)])).toEqual([
        { rowsRead: 3, rowsValid: 2, rowsQuarantined: 1, reasonCounts: { 'non-numeric ride_dist_km': 1 } },
        malformedLine
          ? { rowsRead: 3, rowsValid: 1, rowsQuarantined: 2, reasonCounts: { 'duplicate ride_id': 1, 'malformed line': 1 } }
          : { rowsRead: 2, rowsValid: 1, rowsQuarantined: 1, reasonCounts: { 'duplicate ride_id': 1 } },
        { rowsRead: 2, rowsValid: 1, rowsQuarantined: 1, reasonCounts: { 'negative ride_dist_km': 1 } },
      ]);
      const rejected = await Promise.all(
        days.map(async (day) => {
          const query = result.rejectedRows(partition(day));
          return engine.rows(`SELECT ride_id, _source_file, _source_row FROM (${query.sql})`, query.params);
        }),
      );
      expect(rejected).toEqual([
        [{ ride_id: 'A2', _source_file: `${partition(days[0])}rides.csv`, _source_row: 2 }],
        [
          ...(malformedLine ? [{ ride_id: null, _source_file: `${partition(days[1])}rides.csv`, _source_row: 2 }] : []),
          { ride_id: 'B1', _source_file: `${partition(days[1])}rides.csv`, _source_row: malformedLine ? 3 : 2 },
        ],
        [{ ride_id: 'C1', _source_file: `${partition(days[2])}rides.csv`, _source_row: 1 }],
      ]);
      const valid = await Promise.all(
        days.map(async (day) => {
          const query = result.validRows(partition(day), COLUMNS);
          return (await engine.rows<{ ride_id: string }>(query.sql, query.params)).map((row) => row.ride_id);
        }),
      );
      expect(valid).toEqual([['A1', 'A3'], ['B1'], ['C2']]);
    };
    await check(false);
    await check(true);
  });

  it('keeps the types of a lone JSON lines file and quotes a bad value as its text', async () => {
    const partition = 'bronze/rides/date=2024-01-08/';
    const ride = (id: string, distKm: number) => JSON.stringify({ ride_id: id, taxi_id: 'T1', pickup_ts: '2024-01-08 08:00:00', dropoff_ts: '2024-01-08 08:10:00', ride_dist_km: distKm, ride_time_min: 10 });
    await lake.put(`${partition}rides.jsonl`, `${ride('J1', 2.5)}\n${ride('J2', -1)}\n`);
    const input = await readInputTable(engine, lake, await lake.list(partition), { table: 'rides', format: 'auto', requiredColumns: ['ride_id'] });
    expect(input.columns.find((column) => column.name === 'ride_dist_km')).toEqual({ name: 'ride_dist_km', type: 'DOUBLE' });
    const result = await validateRows(engine, input, RULES);
    expect(result.partitions[partition]).toMatchObject({ rowsRead: 2, rowsValid: 1, reasonCounts: { 'negative ride_dist_km': 1 } });
    const rejectedRows = result.rejectedRows(partition);
    expect(await engine.rows(`SELECT ride_id, _reason FROM (${rejectedRows.sql})`, rejectedRows.params)).toEqual([{ ride_id: 'J2', _reason: 'negative ride_dist_km (-1.0)' }]);
  });

  it('names the file and the missing column', async () => {
    await lake.put('bronze/rides/date=2024-01-03/x.csv', 'ride_id,taxi_id\nR1,T1\n');
    const objects = await lake.list('bronze/rides/date=2024-01-03/');
    await expect(readInputTable(engine, lake, objects, { table: 'rides', format: 'auto', requiredColumns: ['ride_id', 'ride_time_min'] })).rejects.toThrow(
      'bronze/rides/date=2024-01-03/x.csv: missing column ride_time_min (found: ride_id, taxi_id)',
    );
  });

  it('refuses a partition of only empty files', async () => {
    await lake.put('bronze/rides/date=2024-01-04/x.csv', '');
    const objects = await lake.list('bronze/rides/date=2024-01-04/');
    await expect(readInputTable(engine, lake, objects, { table: 'rides', format: 'auto', requiredColumns: [] })).rejects.toThrow(InputError);
  });

  it('quarantines infinite timestamps as invalid and quotes at most 120 characters of a huge value', async () => {
    const partition = 'bronze/rides/date=2024-01-09/';
    const huge = 'x'.repeat(100_000);
    await lake.put(
      `${partition}rides.csv`,
      [
        HEADER,
        'R1,T1,2024-01-09 08:00:00,2024-01-09 08:10:00,3.2,10',
        'R2,T1,infinity,2024-01-09 08:10:00,3.2,10',
        'R3,T1,2024-01-09 08:00:00,-infinity,3.2,10',
        `R4,T1,2024-01-09 08:00:00,2024-01-09 08:10:00,${huge},10`,
      ].join('\n'),
    );
    const input = await readInputTable(engine, lake, await lake.list(partition), { table: 'rides', format: 'auto', requiredColumns: ['ride_id'] });
    const result = await validateRows(engine, input, RULES);
    expect(result.partitions[partition]).toMatchObject({ rowsRead: 4, rowsValid: 1, reasonCounts: { 'invalid timestamp pickup_ts': 1, 'invalid timestamp dropoff_ts': 1, 'non-numeric ride_dist_km': 1 } });
    const rejectedRows = result.rejectedRows(partition);
    const reasons = (await engine.rows<{ _reason: string }>(`SELECT _reason FROM (${rejectedRows.sql})`, rejectedRows.params)).map((row) => row._reason);
    expect(reasons.slice(0, 2)).toEqual(['invalid timestamp pickup_ts (infinity); dropoff_ts before pickup_ts', 'invalid timestamp dropoff_ts (-infinity); dropoff_ts before pickup_ts']);
    expect(reasons[2]).toBe(`non-numeric ride_dist_km (${'x'.repeat(119)}…)`);
  });

  it('lists only columns, not the Parquet schema root, when a Parquet file lacks one', async () => {
    const partition = 'bronze/rides/date=2024-01-10/';
    await engine.exportQuery(`SELECT 'R1' AS ride_id, 'T1' AS taxi_id`, lake, `${partition}x.parquet`, 'parquet');
    await expect(readInputTable(engine, lake, await lake.list(partition), { table: 'rides', format: 'auto', requiredColumns: ['ride_id', 'ride_time_min'] })).rejects.toThrow(
      /x\.parquet: missing column ride_time_min \(found: ride_id, taxi_id\)$/,
    );
  });

  it('counts valid rows dated on another day than their partition as a warning, without quarantining them', async () => {
    const partition = 'bronze/rides/date=2024-01-11/';
    await lake.put(
      `${partition}rides.csv`,
      [HEADER, 'R1,T1,2024-01-11 08:00:00,2024-01-11 08:10:00,3.2,10', 'R2,T1,epoch,2024-01-11 08:10:00,3.2,10', 'R3,T1,2024-01-12 00:00:01,2024-01-12 00:10:00,3.2,10'].join('\n'),
    );
    const input = await readInputTable(engine, lake, await lake.list(partition), { table: 'rides', format: 'auto', requiredColumns: ['ride_id'] });
    const result = await validateRows(engine, input, { ...RULES, eventTimeColumn: 'pickup_ts' });
    expect(result.partitions[partition]).toMatchObject({ rowsRead: 3, rowsValid: 3, warnCounts: { 'pickup_ts outside partition date': 2 } });
  });
});
