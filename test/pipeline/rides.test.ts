import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type RidesPipelineConfig } from '../../src/config/index.js';
import { InputError, QualityGateError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { ridesLayout, runRidesPipeline, type RideAnomaly, type RidesRunSummary } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';

const CONFIG: RidesPipelineConfig = DetourConfigSchema.parse({}).pipelines.rides;
const DAY = '2024-03-01';
const HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';

describe('rides pipeline on a folder lake and embedded PGlite', () => {
  let lake: FsLake;
  let store: Store;
  const context = () => ({ lake, store });

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-rides-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    await writeSampleRides(lake, { from: DAY, to: DAY, ridesPerDay: 20_000, seed: 7, format: 'parquet' });
  });
  afterAll(async () => {
    await store.close();
  });

  let first: RidesRunSummary;
  let firstAnomalies: Buffer;

  it('clusters a day of rides and publishes outliers to gold and the database', async () => {
    first = await runRidesPipeline(context(), CONFIG, DAY);
    const layout = ridesLayout(CONFIG, DAY);
    expect(first).toMatchObject({ pipeline: 'rides', logical_date: DAY, rows_read: 20_000, rows_valid: 20_000, rows_quarantined: 0 });
    expect(first.outliers).toBeGreaterThan(0);
    expect(first.outliers).toBeLessThan(1_000);
    expect(first.clusters.length).toBeGreaterThan(0);
    expect(first.clusters.reduce((sum, cluster) => sum + cluster.size, 0) + first.outliers).toBe(20_000);
    expect(first.parameters).toEqual({ eps: 0.3, min_samples: 10, scale: 'standard', features: ['ride_dist_km', 'ride_time_min'] });
    expect(first.input.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.outputs.quarantine).toBeNull();
    // The sample injects ~1% anomalies. Intercity rides lie far from every cluster and are all
    // found; recall is measured, per kind, against the rows actually flagged.
    const injected = first.injected_anomalies;
    expect(injected?.total).toBeGreaterThan(150);
    expect(Object.keys(injected?.by_kind ?? {})).toEqual(['long_distance', 'long_time', 'stuck_meter']);
    expect(injected?.by_kind.long_distance.recall).toBe(1);
    expect(Object.values(injected?.by_kind ?? {}).reduce((sum, kind) => sum + kind.total, 0)).toBe(injected?.total);
    expect(injected?.flagged).toBeLessThanOrEqual(first.outliers);

    firstAnomalies = await lake.get(layout.anomalies);
    const anomalies = JSON.parse(firstAnomalies.toString()) as RideAnomaly[];
    expect(anomalies).toHaveLength(first.outliers);
    const ids = anomalies.map((anomaly) => anomaly.ride_id);
    expect(ids).toEqual([...ids].sort());
    for (const anomaly of anomalies) {
      expect(anomaly.label).toBe(-1);
      expect(anomaly.score).toBeGreaterThanOrEqual(0);
      expect(anomaly.score).toBeLessThanOrEqual(1);
      expect(anomaly.reason).toMatch(/^ride (time|distance) [\d.]+ (min|km) is [\d.]+σ (above|below) rides of similar (distance|duration) \(expected /);
      expect(anomaly.expected.low).toBeLessThanOrEqual(anomaly.expected.high);
    }
    const longest = anomalies.reduce((best, anomaly) => (anomaly.ride_time_min > best.ride_time_min ? anomaly : best));
    expect(longest.reason).toMatch(/^ride time .* above rides of similar distance/);

    const summary = JSON.parse((await lake.get(layout.summary)).toString()) as RidesRunSummary;
    expect(summary.run_id).toBe(first.run_id);
    expect(summary.detour_version).toMatch(/^\d+\.\d+\.\d+/);
    expect((await lake.list(layout.silver)).map((object) => object.key)).toEqual([layout.silver]);

    const rows = await store.listRideAnomalies(DAY);
    expect(rows.map((row) => row.rideId)).toEqual(ids);
    expect(rows[0]).toMatchObject({ rideId: anomalies[0].ride_id, score: anomalies[0].score, reason: anomalies[0].reason, runId: first.run_id });
    const run = await store.getRun(first.run_id);
    expect(run).toMatchObject({ pipeline: 'rides', logicalDate: DAY, status: 'succeeded', rowsRead: 20_000, rowsQuarantined: 0, outliers: first.outliers, error: null });
  });

  it('reruns idempotently: byte-identical anomalies.json, no duplicate rows', async () => {
    const second = await runRidesPipeline(context(), CONFIG, DAY);
    expect(second.run_id).not.toBe(first.run_id);
    expect(await lake.get(ridesLayout(CONFIG, DAY).anomalies)).toEqual(firstAnomalies);
    const rows = await store.listRideAnomalies(DAY);
    expect(rows).toHaveLength(first.outliers);
    expect(new Set(rows.map((row) => row.runId))).toEqual(new Set([second.run_id]));
  });

  it('quarantines bad rows with reasons and still runs on the good ones', async () => {
    const day = '2024-03-02';
    const good = Array.from({ length: 60 }, (_, i) => `G${String(i).padStart(3, '0')},T1,${day} 08:00:00,${day} 08:10:00,${(2 + (i % 10) * 0.1).toFixed(1)},${10 + (i % 7)}`);
    const bad = [
      `B1,T1,${day} 08:00:00,${day} 08:10:00,-4,10`,
      `B2,T1,${day} 08:00:00,${day} 08:10:00,2.0,soon`,
      `G000,T2,${day} 09:00:00,${day} 09:10:00,2.0,10`,
      `B3,T1,${day} 08:00:00`,
    ];
    await lake.put(`bronze/rides/date=${day}/rides.csv`, [HEADER, ...good, ...bad].join('\n'));
    const summary = await runRidesPipeline(context(), CONFIG, day);
    expect(summary).toMatchObject({ rows_read: 64, rows_valid: 60, rows_quarantined: 4 });
    expect(summary.quarantine_reasons).toEqual({ 'negative ride_dist_km': 1, 'non-numeric ride_time_min': 1, 'duplicate ride_id': 1, 'malformed line': 1 });
    expect(summary.outputs.quarantine).toBe(`silver/rides_quarantine/date=${day}/quarantine.parquet`);
    expect(await lake.exists(summary.outputs.quarantine as string)).toBe(true);
  });

  it.each([
    ['an empty file', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, ''), /input has only empty files/],
    ['a header-only file', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, `${HEADER}\n`), /all 0 rows .* were quarantined/],
    ['a missing column', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, 'ride_id,taxi_id\nR1,T1\n'), /rides\.csv: missing columns pickup_ts, dropoff_ts, ride_dist_km, ride_time_min/],
    ['a file that is not parquet', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.parquet`, 'not parquet at all'), /rides\.parquet: cannot read as parquet/],
    ['only bad rows', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, `${HEADER}\nX,T,${day} 08:00:00,${day} 08:10:00,abc,1\n`), /all 1 rows .* were quarantined \(non-numeric ride_dist_km\)/],
  ])('fails clearly on %s and leaves earlier outputs untouched', async (_, corrupt, message) => {
    const day = '2024-03-05';
    const layout = ridesLayout(CONFIG, day);
    for (const object of await lake.list(layout.input)) await lake.delete(object.key);
    await writeSampleRides(lake, { from: day, to: day, ridesPerDay: 2_000, seed: 3, format: 'csv' });
    await runRidesPipeline(context(), CONFIG, day);
    const anomaliesBefore = await lake.get(layout.anomalies);
    const summaryBefore = await lake.get(layout.summary);
    const dbBefore = await store.listRideAnomalies(day);

    await lake.delete(`${layout.input}rides.csv`);
    await corrupt(day);
    const failure = runRidesPipeline(context(), CONFIG, day);
    await expect(failure).rejects.toThrow(InputError);
    await expect(failure).rejects.toThrow(message);

    expect(await lake.get(layout.anomalies)).toEqual(anomaliesBefore);
    expect(await lake.get(layout.summary)).toEqual(summaryBefore);
    expect(await store.listRideAnomalies(day)).toEqual(dbBefore);
    const [latest] = await store.listRuns({ pipeline: 'rides', limit: 1 });
    expect(latest).toMatchObject({ logicalDate: day, status: 'failed' });
    expect(latest.error).toMatch(message);
  });

  it('stores the quality report and stops before publishing when a fail expectation fails', async () => {
    const day = DAY;
    const layout = ridesLayout(CONFIG, day);
    const anomaliesBefore = await lake.get(layout.anomalies);
    const strict = DetourConfigSchema.parse({
      pipelines: {
        rides: {
          expectations: [
            { type: 'mean_between', column: 'ride_time_min', max: 5, severity: 'warn' },
            { type: 'row_count_between', min: 50_000, severity: 'fail' },
          ],
        },
      },
    }).pipelines.rides;
    const failure = runRidesPipeline(context(), strict, day);
    await expect(failure).rejects.toThrow(QualityGateError);
    await expect(failure).rejects.toThrow(/quality gate failed for rides on 2024-03-01: row count at least 50000 \(observed 20000\)/);
    expect(await lake.get(layout.anomalies)).toEqual(anomaliesBefore);

    const report = JSON.parse((await lake.get(layout.quality)).toString()) as { passed: boolean; results: { passed: boolean }[] };
    expect(report.passed).toBe(false);
    expect(report.results.map((result) => result.passed)).toEqual([false, false]);
    const [failedRun] = await store.listRuns({ limit: 1 });
    expect(failedRun.status).toBe('failed');
    const stored = await store.listQualityResults(failedRun.id);
    expect(stored.map((result) => [result.expectation, result.severity, result.passed, result.observed])).toEqual([
      ['mean of ride_time_min at most 5', 'warn', false, expect.any(Number)],
      ['row count at least 50000', 'fail', false, 20_000],
    ]);

    // The default expectations pass on sample data and are reported in the summary.
    const summary = await runRidesPipeline(context(), CONFIG, day);
    expect(summary.quality).toEqual({ passed: true, failed_warnings: [], report: layout.quality });
    expect((await store.listQualityResults(summary.run_id)).every((result) => result.passed)).toBe(true);
  });

  it('fails on a missing partition folder, naming it', async () => {
    await expect(runRidesPipeline(context(), CONFIG, '2023-12-31')).rejects.toThrow(
      /no input: bronze\/rides\/date=2023-12-31\/ is missing or empty in file:\/\//,
    );
  });

  it('reads configurable column names', async () => {
    const day = '2024-03-03';
    const config = DetourConfigSchema.parse({ pipelines: { rides: { dataset: 'trips', columns: { rideId: 'trip', rideTimeMin: 'minutes' } } } }).pipelines.rides;
    const rows = Array.from({ length: 200 }, (_, i) => `T${i},X,${day} 08:00:00,${day} 08:10:00,${(1 + (i % 5) * 0.01).toFixed(2)},${(5 + (i % 4) * 0.1).toFixed(1)}`);
    rows.push(`LONG1,X,${day} 08:00:00,${day} 10:10:00,1.2,130`);
    await lake.put(`bronze/trips/date=${day}/part.csv`, ['trip,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,minutes', ...rows].join('\n'));
    const summary = await runRidesPipeline(context(), config, day);
    expect(summary.outliers).toBe(1);
    const [anomaly] = JSON.parse((await lake.get(summary.outputs.anomalies)).toString()) as RideAnomaly[];
    expect(anomaly).toMatchObject({ ride_id: 'LONG1', ride_time_min: 130, label: -1 });
    expect(anomaly.reason).toMatch(/^ride time 130 min is [\d.]+σ above rides of similar distance/);
  });
});
