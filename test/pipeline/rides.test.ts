import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { InputError, QualityGateError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineLayout, type DbscanFacts, type RunResult, type RunSummary } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline, seedConfig } from '../helpers/pipeline.js';

const CONFIG: DetourConfig = DetourConfigSchema.parse({});
/** The rides pipeline as the seed ran it: DBSCAN alone. */
const SEED: DetourConfig = seedConfig();
const DAY = '2024-03-01';
const HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';

/** One element of the rides' `anomalies.json` (the issue-2 contract). */
interface RideAnomaly {
  ride_id: string;
  taxi_id: string;
  ride_dist_km: number;
  ride_time_min: number;
  label: -1;
  score: number;
  reason: string;
  expected: { feature: string; value: number; low: number; high: number };
}

/** A ride of the built-in pipeline, which runs several detectors: each one that flagged it, with its score and reason. */
interface MultiDetectorRideAnomaly extends RideAnomaly {
  detectors: { detector: 'dbscan' | 'conditional' | 'pattern'; score: number; reason: string }[];
}

const dbscanFacts = (summary: RunSummary) => summary.detections.dbscan as DbscanFacts;

const layoutOf = (day: string, config: DetourConfig = CONFIG, pipeline = 'rides') => pipelineLayout(pipeline, config.pipelines[pipeline], day);

describe('rides pipeline on a folder lake and embedded PGlite', () => {
  let lake: FsLake;
  let store: Store;
  const run = (dates: string[], config: DetourConfig = CONFIG, pipeline = 'rides') => runPipeline(lake, store, config, pipeline, dates);

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-rides-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    await writeSampleRides(lake, { from: DAY, to: DAY, ridesPerDay: 20_000, seed: 7, format: 'parquet' });
  });
  afterAll(async () => {
    await store.close();
  });

  let first: RunResult;
  let firstSummary: RunSummary;
  let firstAnomalies: Buffer;

  it('clusters a day of rides with DBSCAN alone (the seed) and publishes every outlier to gold and the database', async () => {
    first = await run([DAY], SEED);
    const layout = layoutOf(DAY);
    expect(first.summaries).toHaveLength(1);
    firstSummary = first.summaries[0];
    expect(firstSummary).toMatchObject({
      pipeline: 'rides',
      run_id: first.run.id,
      logical_date: DAY,
      dataset: 'rides',
      rows_read: 20_000,
      rows_valid: 20_000,
      rows_quarantined: 0,
    });
    expect(Object.keys(firstSummary.detections)).toEqual(['dbscan']);
    const dbscan = dbscanFacts(firstSummary);
    expect(dbscan.outliers).toBeGreaterThan(0);
    expect(dbscan.outliers).toBeLessThan(1_000);
    expect(firstSummary.anomalies).toBe(dbscan.outliers);
    expect(dbscan.clusters.length).toBeGreaterThan(0);
    expect(dbscan.clusters.reduce((sum, cluster) => sum + cluster.size, 0) + dbscan.outliers).toBe(20_000);
    for (const cluster of dbscan.clusters) expect(Object.keys(cluster.centroid)).toEqual(['ride_dist_km', 'ride_time_min']);
    expect(dbscan.parameters).toEqual({ eps: 0.3, min_samples: 10, scale: 'standard', features: ['ride_dist_km', 'ride_time_min'] });
    expect(firstSummary.input.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(firstSummary.outputs).toEqual({ silver: layout.silver, quarantine: null, anomalies: layout.anomalies, summary: layout.summary });
    expect(layout.anomalies).toBe(`gold/ride_anomalies/date=${DAY}/anomalies.json`);
    expect(layout.summary).toBe(`gold/ride_clusters/date=${DAY}/summary.json`);
    // The sample injects ~1% anomalies. Intercity rides lie far from every cluster and are all
    // found; recall is measured, per kind, against the rows actually flagged.
    const injected = dbscan.injected_anomalies;
    expect(injected?.total).toBeGreaterThan(150);
    expect(Object.keys(injected?.by_kind ?? {})).toEqual(['long_distance', 'long_time', 'stuck_meter']);
    expect(injected?.by_kind.long_distance.recall).toBe(1);
    expect(Object.values(injected?.by_kind ?? {}).reduce((sum, kind) => sum + kind.total, 0)).toBe(injected?.total);
    expect(injected?.flagged).toBeLessThanOrEqual(dbscan.outliers);

    firstAnomalies = await lake.get(layout.anomalies);
    const anomalies = JSON.parse(firstAnomalies.toString()) as RideAnomaly[];
    expect(anomalies).toHaveLength(dbscan.outliers);
    const ids = anomalies.map((anomaly) => anomaly.ride_id);
    expect(ids).toEqual([...ids].sort());
    for (const anomaly of anomalies) {
      expect(Object.keys(anomaly)).toEqual(['ride_id', 'taxi_id', 'ride_dist_km', 'ride_time_min', 'label', 'score', 'reason', 'expected']);
      expect(anomaly.label).toBe(-1);
      expect(anomaly.score).toBeGreaterThanOrEqual(0);
      expect(anomaly.score).toBeLessThanOrEqual(1);
      expect(anomaly.reason).toMatch(/^ride (time|distance) [\d.]+ (min|km) is [\d.]+σ (above|below) rides of similar (distance|duration) \(expected /);
      expect(Object.keys(anomaly.expected)).toEqual(['feature', 'value', 'low', 'high']);
      expect(anomaly.expected.low).toBeLessThanOrEqual(anomaly.expected.high);
    }
    const longest = anomalies.reduce((best, anomaly) => (anomaly.ride_time_min > best.ride_time_min ? anomaly : best));
    expect(longest.reason).toMatch(/^ride time .* above rides of similar distance/);

    const summary = JSON.parse((await lake.get(layout.summary)).toString()) as RunSummary;
    expect(summary).toEqual(firstSummary);
    expect(summary.run_id).toBe(first.run.id);
    expect(summary.detour_version).toMatch(/^\d+\.\d+\.\d+/);
    expect((await lake.list(layout.silver)).map((object) => object.key)).toEqual([layout.silver]);

    const rows = await store.listAnomalies('ride_anomalies', DAY);
    expect(rows.map((row) => row.id)).toEqual(ids);
    expect(rows[0]).toMatchObject({
      id: anomalies[0].ride_id,
      detector: 'dbscan',
      entity: anomalies[0].taxi_id,
      value: anomalies[0].expected.feature === 'ride_time_min' ? anomalies[0].ride_time_min : anomalies[0].ride_dist_km,
      expected: anomalies[0].expected.value,
      lower: anomalies[0].expected.low,
      upper: anomalies[0].expected.high,
      score: anomalies[0].score,
      reason: anomalies[0].reason,
      attributes: { ride_dist_km: anomalies[0].ride_dist_km, ride_time_min: anomalies[0].ride_time_min, label: -1 },
      runId: first.run.id,
    });
    const expectedRun = { pipeline: 'rides', logicalDate: DAY, endDate: DAY, status: 'succeeded', rowsRead: 20_000, rowsQuarantined: 0, outliers: dbscan.outliers, error: null };
    expect(first.run).toMatchObject(expectedRun);
    expect(await store.getRun(first.run.id)).toMatchObject(expectedRun);
  });

  it('reruns idempotently: byte-identical anomalies.json, no duplicate rows', async () => {
    const second = await run([DAY], SEED);
    expect(second.run.id).not.toBe(first.run.id);
    expect(await lake.get(layoutOf(DAY).anomalies)).toEqual(firstAnomalies);
    const rows = await store.listAnomalies('ride_anomalies', DAY);
    expect(rows).toHaveLength(dbscanFacts(firstSummary).outliers);
    expect(new Set(rows.map((row) => row.runId))).toEqual(new Set([second.run.id]));
  });

  it('runs DBSCAN, conditional and pattern (built in): one row per ride, listing every detector that flagged it', async () => {
    const { summaries: [summary], run: builtIn } = await run([DAY]);
    expect(Object.keys(summary.detections)).toEqual(['dbscan', 'conditional', 'pattern']);
    const anomalies = JSON.parse((await lake.get(layoutOf(DAY).anomalies)).toString()) as MultiDetectorRideAnomaly[];
    expect(summary.anomalies).toBe(anomalies.length);
    expect(builtIn.outliers).toBe(anomalies.length);
    const ids = anomalies.map((anomaly) => anomaly.ride_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([...ids].sort());
    for (const anomaly of anomalies) {
      // The contract of the seed's rows, plus who flagged the ride.
      expect(Object.keys(anomaly)).toEqual(['ride_id', 'taxi_id', 'ride_dist_km', 'ride_time_min', 'label', 'score', 'reason', 'expected', 'detectors']);
      expect(anomaly.score).toBe(Math.max(...anomaly.detectors.map((flagged) => flagged.score)));
      // DBSCAN does not publish alone here: it adds its reason to rides the others flag.
      expect(anomaly.detectors.some((flagged) => flagged.detector !== 'dbscan')).toBe(true);
      const reasons = anomaly.detectors.map((flagged) => (anomaly.detectors.length === 1 ? flagged.reason : `${flagged.detector}: ${flagged.reason}`));
      expect(anomaly.reason).toBe(reasons.join('; '));
    }
    const combos = new Set(anomalies.map((anomaly) => anomaly.detectors.map((flagged) => flagged.detector).join('+')));
    // Intercity rides are far from every cluster and beyond the fleet's distances; a stuck meter is too long for its distance and repeats it.
    expect(combos).toContain('dbscan+conditional');
    expect(combos).toContain('conditional+pattern');
    const stuck = anomalies.find((anomaly) => anomaly.detectors.map((flagged) => flagged.detector).join('+') === 'conditional+pattern') as MultiDetectorRideAnomaly;
    expect(stuck.detectors[0].reason).toMatch(/^ride time [\d.]+ min for [\d.]+ km is [\d.]+σ above rides of [\d.]+ km at \d\d:00–\d\d:00, the nearest with enough rides to compare \(expected [\d.]+–[\d.]+ min\)$/);
    expect(stuck.detectors[1].reason).toMatch(new RegExp(`^${stuck.taxi_id} repeated ride distance [\\d.–]+ km on \\d+ of its \\d+ rides, where the rest of the fleet's rate predicts [\\d.e-]+$`));

    // Each detector's own view is in the summary; the published rows are evaluated together.
    expect(dbscanFacts(summary).outliers).toBeGreaterThan(0);
    const evaluation = summary.evaluation;
    expect(Object.keys(evaluation?.by_kind ?? {})).toEqual(['long_distance', 'long_time', 'stuck_meter']);
    for (const [kind, counts] of Object.entries(evaluation?.by_kind ?? {})) {
      expect(counts.recall, kind).toBeGreaterThanOrEqual(0.95);
      expect(counts.precision, kind).toBeGreaterThanOrEqual(0.95);
    }
    const rows = await store.listAnomalies('ride_anomalies', DAY);
    expect(rows.map((row) => row.id)).toEqual(ids);
    expect(rows.find((row) => row.id === stuck.ride_id)).toMatchObject({ detector: 'conditional+pattern', entity: stuck.taxi_id, score: stuck.score, reason: stuck.reason });
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
    const { summaries: [summary] } = await run([day]);
    expect(summary).toMatchObject({ rows_read: 64, rows_valid: 60, rows_quarantined: 4 });
    expect(summary.quarantine_reasons).toEqual({ 'negative ride_dist_km': 1, 'non-numeric ride_time_min': 1, 'duplicate ride_id': 1, 'malformed line': 1 });
    expect(summary.outputs.quarantine).toBe(`silver/rides_quarantine/date=${day}/quarantine.parquet`);
    expect(await lake.exists(summary.outputs.quarantine as string)).toBe(true);
  });

  it.each([
    ['an empty file', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, ''), /input has only empty files/],
    ['a header-only file', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, `${HEADER}\n`), /has no rows: its files hold a header only/],
    ['a missing column', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, 'ride_id,taxi_id\nR1,T1\n'), /rides\.csv: missing columns pickup_ts, dropoff_ts, ride_dist_km, ride_time_min/],
    ['a file that is not parquet', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.parquet`, 'not parquet at all'), /rides\.parquet: cannot read as parquet/],
    ['only bad rows', async (day: string) => lake.put(`bronze/rides/date=${day}/rides.csv`, `${HEADER}\nX,T,${day} 08:00:00,${day} 08:10:00,abc,1\n`), /all 1 rows .* were quarantined \(non-numeric ride_dist_km\)/],
  ])('fails clearly on %s and leaves earlier outputs untouched', async (_, corrupt, message) => {
    const day = '2024-03-05';
    const layout = layoutOf(day);
    for (const object of await lake.list(layout.input)) await lake.delete(object.key);
    await writeSampleRides(lake, { from: day, to: day, ridesPerDay: 2_000, seed: 3, format: 'csv' });
    await run([day]);
    const anomaliesBefore = await lake.get(layout.anomalies);
    const summaryBefore = await lake.get(layout.summary);
    const dbBefore = await store.listAnomalies('ride_anomalies', day);
    expect(dbBefore.length).toBeGreaterThan(0);

    await lake.delete(`${layout.input}rides.csv`);
    await corrupt(day);
    const failure = run([day]);
    await expect(failure).rejects.toThrow(InputError);
    await expect(failure).rejects.toThrow(message);

    expect(await lake.get(layout.anomalies)).toEqual(anomaliesBefore);
    expect(await lake.get(layout.summary)).toEqual(summaryBefore);
    expect(await store.listAnomalies('ride_anomalies', day)).toEqual(dbBefore);
    const [latest] = await store.listRuns({ pipeline: 'rides', limit: 1 });
    expect(latest).toMatchObject({ logicalDate: day, status: 'failed' });
    expect(latest.error).toMatch(message);
    // The clean step failed, once (bad input is not retried), and nothing after it ran.
    const steps = await store.listSteps(latest.id);
    expect(steps.find((step) => step.step === 'clean')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(steps.find((step) => step.step === 'clean')?.error).toMatch(message);
    // Aggregate is planned as skipped: the rides pipeline has no SQL steps.
    expect(steps.filter((step) => step.step !== 'clean').map((step) => `${step.step}:${step.status}`)).toEqual(['quality:pending', 'aggregate:skipped', 'detect:pending', 'detect:pending', 'detect:pending', 'publish:pending']);
  });

  it('writes the dates of a chunk before its first unusable one, and that one\'s quarantine, then fails naming it', async () => {
    const [first, unusable, after] = ['2024-06-10', '2024-06-11', '2024-06-12'];
    await writeSampleRides(lake, { from: first, to: after, ridesPerDay: 500, seed: 5, format: 'csv' });
    await lake.delete(`${layoutOf(unusable).input}rides.csv`);
    await lake.put(`${layoutOf(unusable).input}rides.csv`, `${HEADER}\nX,T,${unusable} 08:00:00,${unusable} 08:10:00,abc,1\n`);
    await expect(run([first, unusable, after])).rejects.toThrow(new RegExp(`all 1 rows of bronze/rides/date=${unusable}/ were quarantined`));
    expect(await lake.exists(layoutOf(first).silver)).toBe(true);
    expect(await lake.exists(layoutOf(unusable).quarantine)).toBe(true);
    expect(await lake.exists(layoutOf(unusable).silver)).toBe(false);
    expect(await lake.exists(layoutOf(after).silver)).toBe(false);
  });

  it('stores the quality report and stops before publishing when a fail expectation fails', async () => {
    const day = DAY;
    const layout = layoutOf(day);
    const anomaliesBefore = await lake.get(layout.anomalies);
    const dbBefore = await store.listAnomalies('ride_anomalies', day);
    const strict = DetourConfigSchema.parse({
      datasets: {
        rides: {
          ...CONFIG.datasets.rides,
          expectations: [
            { type: 'mean_between', column: 'ride_time_min', max: 5, severity: 'warn' },
            { type: 'row_count_between', min: 50_000, severity: 'fail' },
          ],
        },
      },
    });
    const failure = run([day], strict);
    await expect(failure).rejects.toThrow(QualityGateError);
    await expect(failure).rejects.toThrow(/quality gate failed for rides on 2024-03-01: row count at least 50000 \(observed 20000\)/);
    expect(await lake.get(layout.anomalies)).toEqual(anomaliesBefore);
    expect(await store.listAnomalies('ride_anomalies', day)).toEqual(dbBefore);

    const report = JSON.parse((await lake.get(layout.quality)).toString()) as { passed: boolean; results: { passed: boolean }[] };
    expect(report.passed).toBe(false);
    expect(report.results.map((result) => result.passed)).toEqual([false, false]);
    const [failedRun] = await store.listRuns({ limit: 1 });
    expect(failedRun.status).toBe('failed');
    expect(failedRun.error).toMatch(/quality gate failed for rides on 2024-03-01/);
    expect((await store.listSteps(failedRun.id)).find((step) => step.step === 'quality')).toMatchObject({ status: 'failed', attempts: 1 });
    const stored = await store.listQualityResults(failedRun.id);
    expect(stored.map((result) => [result.expectation, result.severity, result.passed, result.observed])).toEqual([
      ['mean of ride_time_min at most 5', 'warn', false, expect.any(Number)],
      ['row count at least 50000', 'fail', false, 20_000],
    ]);
    expect(await store.listQualityResults(failedRun.id, day)).toEqual(stored);

    // The default expectations pass on sample data and are reported in the summary.
    const { run: passedRun, summaries: [summary] } = await run([day]);
    expect(summary.quality).toEqual({ passed: true, failed_warnings: [], report: layout.quality });
    const passed = await store.listQualityResults(passedRun.id);
    expect(passed).toHaveLength(CONFIG.datasets.rides.expectations.length);
    expect(passed.every((result) => result.passed)).toBe(true);
  });

  it('fails on a missing partition folder, naming it', async () => {
    const failure = run(['2023-12-31']);
    await expect(failure).rejects.toThrow(InputError);
    await expect(failure).rejects.toThrow(/no input: bronze\/rides\/date=2023-12-31\/ is missing or empty in file:\/\//);
  });

  it('reads configurable column names', async () => {
    const day = '2024-03-03';
    // The operator's raw files call the ride id `trip` and the ride time `minutes`; the dataset
    // renames them, and the built-in rides pipeline runs on it unchanged.
    const rides = CONFIG.pipelines.rides;
    const config = DetourConfigSchema.parse({
      datasets: {
        trips: {
          columns: {
            ride_id: { type: 'string', from: 'trip' },
            taxi_id: { type: 'string' },
            pickup_ts: { type: 'timestamp' },
            dropoff_ts: { type: 'timestamp', notBefore: 'pickup_ts' },
            ride_dist_km: { type: 'number', min: 0 },
            ride_time_min: { type: 'number', from: 'minutes', min: 0 },
          },
          key: 'ride_id',
        },
      },
      pipelines: {
        trips: { dataset: 'trips', detect: [{ ...rides.detect[0], table: 'trips', standalone: true }] },
      },
    });
    const rows = Array.from({ length: 200 }, (_, i) => `T${i},X,${day} 08:00:00,${day} 08:10:00,${(1 + (i % 5) * 0.01).toFixed(2)},${(5 + (i % 4) * 0.1).toFixed(1)}`);
    rows.push(`LONG1,X,${day} 08:00:00,${day} 10:10:00,1.2,130`);
    await lake.put(`bronze/trips/date=${day}/part.csv`, ['trip,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,minutes', ...rows].join('\n'));
    const { summaries: [summary] } = await run([day], config, 'trips');
    expect(summary).toMatchObject({ pipeline: 'trips', dataset: 'trips', rows_read: 201, rows_valid: 201, anomalies: 1 });
    expect(dbscanFacts(summary).outliers).toBe(1);
    // No labelled rows in real data: no recall to report.
    expect(summary.detections.dbscan.injected_anomalies).toBeUndefined();
    expect(summary.evaluation).toBeUndefined();
    expect(summary.outputs.anomalies).toBe(layoutOf(day, config, 'trips').anomalies);
    const [anomaly] = JSON.parse((await lake.get(summary.outputs.anomalies)).toString()) as RideAnomaly[];
    expect(anomaly).toMatchObject({ ride_id: 'LONG1', taxi_id: 'X', ride_time_min: 130, label: -1 });
    expect(anomaly.reason).toMatch(/^ride time 130 min is [\d.]+σ above rides of similar distance/);
  });
});
