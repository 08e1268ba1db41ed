import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineLayout, type ConditionalFacts, type PatternFacts } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

const BUILT_IN = DetourConfigSchema.parse({});
const [, CONDITIONAL] = BUILT_IN.pipelines.rides.detect;

describe('ride detectors on the rides pipeline', () => {
  let lake: FsLake;
  let store: Store;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-ride-detectors-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
  });
  afterAll(async () => {
    await store.close();
  });

  it('finds every injected kind of the sample at 100,000 rides a day with precision and recall of at least 0.95', async () => {
    const day = '2024-01-04';
    await writeSampleRides(lake, { from: day, to: day, ridesPerDay: 100_000, seed: 42, format: 'parquet' });
    const { summaries: [summary] } = await runPipeline(lake, store, BUILT_IN, 'rides', [day]);
    const evaluation = summary.evaluation;
    expect(evaluation?.total).toBeGreaterThan(900);
    expect(Object.keys(evaluation?.by_kind ?? {})).toEqual(['long_distance', 'long_time', 'stuck_meter']);
    for (const [kind, counts] of Object.entries(evaluation?.by_kind ?? {})) {
      expect(counts.recall, kind).toBeGreaterThanOrEqual(0.95);
      expect(counts.precision, kind).toBeGreaterThanOrEqual(0.95);
    }
    // Each detector reports its own share: the stuck meters' taxis, with score and reason, are the pattern detector's.
    const pattern = summary.detections.pattern as PatternFacts;
    expect(pattern.vehicles.length).toBeGreaterThan(0);
    for (const vehicle of pattern.vehicles) expect(vehicle).toMatchObject({ pattern: 'repeated', score: expect.any(Number), reason: expect.stringMatching(new RegExp(`^${vehicle.vehicle} repeated ride (distance|time) `)) });
    const conditional = summary.detections.conditional as ConditionalFacts;
    expect(conditional.fit).toMatchObject({ from: day, to: day, days: 1, rides: 100_000, by_day_of_week: false });
    expect(conditional.by_reason.too_long).toBeGreaterThan(0);
  });

  it('learns from a trailing window of days, with day-of-week terms from two weeks on', async () => {
    const dates = dateRange('2024-02-01', '2024-02-14');
    await writeSampleRides(lake, { from: dates[0], to: dates[13], ridesPerDay: 3_000, seed: 5, format: 'parquet' });
    const config = DetourConfigSchema.parse({
      pipelines: { window: { dataset: 'rides', detect: [{ ...CONDITIONAL, history: 13 }], publish: { table: 'window_anomalies' } } },
    });
    const { summaries } = await runPipeline(lake, store, config, 'window', dates);
    const fits = summaries.map((summary) => (summary.detections.conditional as ConditionalFacts).fit);
    // Each date learns from the days before it that exist (the run cleaned them all first).
    expect(fits[0]).toMatchObject({ from: dates[0], to: dates[0], days: 1, rides: 3_000, by_day_of_week: false });
    expect(fits[6]).toMatchObject({ from: dates[0], to: dates[6], days: 7, rides: 21_000, by_day_of_week: false });
    expect(fits[13]).toMatchObject({ from: dates[0], to: dates[13], days: 14, rides: 42_000, by_day_of_week: true });
  });

  it('reads miles and seconds, and speaks them: a 10-mile ride in 20 seconds is faster than any car', async () => {
    const day = '2024-03-01';
    const config = DetourConfigSchema.parse({
      datasets: {
        trips: {
          columns: {
            trip_id: { type: 'string' },
            medallion: { type: 'string' },
            pickup: { type: 'timestamp' },
            miles: { type: 'number', min: 0 },
            seconds: { type: 'number', min: 0 },
          },
          key: 'trip_id',
        },
      },
      pipelines: {
        trips: {
          dataset: 'trips',
          detect: [
            {
              detector: 'conditional',
              table: 'trips',
              id: 'trip_id',
              entity: 'medallion',
              distance: { column: 'miles', unit: 'mi', label: 'trip distance' },
              duration: { column: 'seconds', unit: 's', label: 'trip time' },
              start: 'pickup',
              records: 'trips',
            },
          ],
        },
      },
    });
    const trips = Array.from({ length: 40 }, (_, i) => `T${i},M${i % 7},${day} 0${i % 10}:1${i % 6}:00,${(1 + (i % 5) * 0.5).toFixed(1)},${300 + 60 * (i % 5)}`);
    await lake.put(`bronze/trips/date=${day}/trips.csv`, ['trip_id,medallion,pickup,miles,seconds', ...trips, `FAST,M1,${day} 09:30:00,10,20`].join('\n'));
    const { summaries: [summary] } = await runPipeline(lake, store, config, 'trips', [day]);
    expect(summary.anomalies).toBe(1);
    const [anomaly] = JSON.parse((await lake.get(pipelineLayout('trips', config.pipelines.trips, day).anomalies)).toString()) as Record<string, unknown>[];
    // One record detector: the row is the record's columns and the verdict, as DBSCAN's are.
    expect(Object.keys(anomaly)).toEqual(['trip_id', 'medallion', 'miles', 'seconds', 'label', 'score', 'reason', 'expected']);
    expect(anomaly).toMatchObject({ trip_id: 'FAST', medallion: 'M1', miles: 10, seconds: 20, label: -1 });
    expect(anomaly.reason).toBe('10 mi in 0.33 min is 1800 mi/h, faster than any car (limit 93 mi/h)');
    // 40 trips are too few to learn what is usual: no band to compare with, and no fleet distance band either.
    expect(summary.detections.conditional).toMatchObject({ flagged: 1, by_reason: { too_long: 0, too_short: 0, too_fast: 1, far_distance: 0 }, fit: { distance: { flagged_above: null } } });
  });
});
