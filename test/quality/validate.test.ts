import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEngine, readInputTable, type Engine } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { validateRows, type RowRules } from '../../src/quality/index.js';

const RULES: RowRules = {
  idColumn: 'ride_id',
  requiredColumns: ['taxi_id'],
  numericColumns: [
    { name: 'ride_dist_km', min: 0 },
    { name: 'ride_time_min', min: 0 },
  ],
  timestampColumns: ['pickup_ts', 'dropoff_ts'],
  orderedTimestamps: [['pickup_ts', 'dropoff_ts']],
};

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
    expect(input.rowCount).toBe(11);
    expect(input.malformedCount).toBe(1);

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

    const valid = await engine.rows(`SELECT ride_id, taxi_id, ride_dist_km, typeof(ride_dist_km) AS type FROM ${result.validTable} ORDER BY ride_id`);
    expect(valid).toEqual([
      { ride_id: 'R1', taxi_id: 'T1', ride_dist_km: 3.2, type: 'DOUBLE' },
      { ride_id: 'R10', taxi_id: 'T5', ride_dist_km: 2.5, type: 'DOUBLE' },
    ]);
    const quarantined = await engine.rows<{ ride_id: string | null; _source_file: string; _source_row: number; _reason: string; _raw_line: string | null }>(
      `SELECT ride_id, _source_file, _source_row, _reason, _raw_line FROM ${result.quarantineTable} ORDER BY _source_row`,
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
    const result = await validateRows(engine, input, RULES);
    expect(result.rowsValid).toBe(2);
    const rows = await engine.rows(`SELECT ride_id, _source_file FROM ${result.validTable} ORDER BY ride_id`);
    expect(rows).toEqual([
      { ride_id: 'A1', _source_file: 'bronze/rides/date=2024-01-02/a.csv' },
      { ride_id: 'P1', _source_file: 'bronze/rides/date=2024-01-02/b.parquet' },
    ]);
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
});
