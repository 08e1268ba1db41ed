import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { detectRecords, pipelineLayout } from '../../src/pipeline/index.js';
import { detectSeries } from '../../src/pipeline/series-detect.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

const CONFIG = DetourConfigSchema.parse({});
const DAY = '2024-03-07';
const HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';
const [RIDES_STEP] = CONFIG.pipelines.rides.detect;
if (RIDES_STEP.detector !== 'dbscan') throw new Error('the built-in rides pipeline detects with dbscan');

describe('a feature value no float sum can hold', () => {
  let lake: FsLake;
  let store: Store;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-extreme-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
  });
  afterAll(async () => {
    await store.close();
  });

  it('1e308 km in five rides of a day: the day is detected and those rides are its outliers', async () => {
    await writeSampleRides(lake, { from: DAY, to: DAY, ridesPerDay: 2_000, seed: 5, format: 'csv' });
    const huge = Array.from({ length: 5 }, (_, i) => `HUGE${i},T${i},${DAY} 09:0${i}:00,${DAY} 09:2${i}:00,1e308,${20 + i}`);
    await lake.put(`bronze/rides/date=${DAY}/huge.csv`, [HEADER, ...huge].join('\n'));

    const { run, summaries: [summary] } = await runPipeline(lake, store, CONFIG, 'rides', [DAY]);
    expect(run.status).toBe('succeeded');
    expect(summary.rows_valid).toBe(2_005);
    const published = JSON.parse((await lake.get(pipelineLayout('rides', CONFIG.pipelines.rides, DAY).anomalies)).toString()) as { ride_id: string; ride_dist_km: number; reason: string }[];
    const hugeFindings = published.filter((anomaly) => anomaly.ride_id.startsWith('HUGE'));
    expect(hugeFindings.map((anomaly) => anomaly.ride_id)).toEqual(['HUGE0', 'HUGE1', 'HUGE2', 'HUGE3', 'HUGE4']);
    for (const anomaly of hugeFindings) {
      expect(anomaly.ride_dist_km).toBe(1e308);
      expect(anomaly.reason).toMatch(/^dbscan: ride distance 1e\+308 km is \S+σ above rides of similar duration/);
      expect(anomaly.reason).toMatch(/; conditional: .*1e\+308 km in \d+ min is infinitely many km\/h, faster than any car \(limit 150 km\/h\); ride distance 1e\+308 km is [\d.]+σ beyond the distances rides go/);
    }
  });

  it('a missing feature value fails the day naming the column and the record, as bad input', async () => {
    const ids = ['R1', 'R2', 'R3'];
    const table = { idsOf: async (rows: readonly number[]) => rows.map((row) => ids[row]), entities: [null, null, null], features: [Float64Array.of(2, 3, 4), Float64Array.of(10, Number.NaN, 12)] };
    for (const scale of ['standard', 'none'] as const) {
      const detect = detectRecords({ ...RIDES_STEP, scale }, table, DAY);
      await expect(detect).rejects.toThrow(InputError);
      await expect(detect).rejects.toThrow(`detect step dbscan on rides ${DAY}: ride_time_min of ride_id R2 is missing (NULL or NaN); every feature needs a finite number`);
    }
    table.features[1][1] = Number.POSITIVE_INFINITY;
    await expect(detectRecords(RIDES_STEP, table, DAY)).rejects.toThrow('ride_time_min of ride_id R2 is Infinity');
  });

  it('ARIMA names the entity-day whose value it cannot model when it skips an entity', () => {
    const step = DetourConfigSchema.parse({}).pipelines.flights.detect[0];
    if (step.detector !== 'arima') throw new Error('the built-in flights pipeline detects with arima first');
    const days = Array.from({ length: 40 }, (_, i) => new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10));
    const delays = Float64Array.from(days, (_, i) => 10 + 3 * Math.sin(i / 3));
    delays[30] = 1e308;
    const table = { entity: days.map(() => 'ORD'), day: days, timeMs: Float64Array.from(days, (day) => Date.parse(day)), values: { avg_delay: delays, flights: new Float64Array(days.length).fill(100) } };
    const { findings, skipped } = detectSeries(step, table, { from: days[35], to: days[39], windowStart: days[0] });
    expect(findings).toEqual([]);
    expect(skipped).toEqual([{ entity: 'ORD', reason: expect.stringMatching(/^arima: avg_delay 1e\+308 on 2024-01-31 is too large to model \(/) as unknown as string }]);
  });
});
