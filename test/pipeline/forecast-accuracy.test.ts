import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { monitorReportText } from '../../src/cli/monitor-format.js';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { detectArimaAnomalies, newStreamState, scoreStream, seriesParams, type StreamParams } from '../../src/detectors/index.js';
import { partitionPrefix, type FsLake } from '../../src/lake/index.js';
import { runParamsOf, startRun, type RunServices } from '../../src/pipeline/index.js';
import { SeededRandom } from '../../src/sample/index.js';
import type { ForecastRow, Store } from '../../src/store/index.js';
import { openTempServices } from '../helpers/pipeline.js';

const DAYS = dateRange('2024-05-01', '2024-05-10');
const METERS = ['m1', 'm2', 'm3'];
const HOURS = Array.from({ length: 24 }, (_, hour) => hour);

/** Whole readings (sums of them are exact in any order): two daily waves, and a meter that reads 0 at night. */
function reading(meter: string, hour: number, random: SeededRandom): number {
  if (meter === 'm3') return hour < 6 ? 0 : 10 + hour + Math.floor(random.next() * 4);
  const base = meter === 'm1' ? 100 : 50;
  return Math.round(base + 0.2 * base * Math.sin((2 * Math.PI * hour) / 24) + random.next() * 10);
}

/** Hourly readings of every meter on every day. */
function sampleReadings(): Map<string, Map<string, number[]>> {
  const random = new SeededRandom(11);
  return new Map(DAYS.map((day) => [day, new Map(METERS.map((meter) => [meter, HOURS.map((hour) => reading(meter, hour, random))]))]));
}

const timestampOf = (day: string, hour: number) => `${day} ${String(hour).padStart(2, '0')}:00:00`;

/** A water utility's meters: hourly readings, a daily total per meter, both forecast (stream, ARIMA), monitored. */
function meteredConfig(): DetourConfig {
  return DetourConfigSchema.parse({
    datasets: { meters: { columns: { meter: { type: 'string' }, ts: { type: 'timestamp' }, reading: { type: 'number', min: 0 } } } },
    pipelines: {
      metered: {
        dataset: 'meters',
        aggregate: [{ name: 'daily_readings', sql: 'SELECT meter, CAST(ts AS DATE) AS day, sum(reading) AS total FROM meters GROUP BY ALL' }],
        detect: [
          { detector: 'stream', table: 'meters', entity: 'meter', time: 'ts', value: 'reading', partitions: 2 },
          { detector: 'arima', table: 'daily_readings', entity: 'meter', time: 'day', value: 'total', order: [1, 0, 0], minHistory: 5, period: 0, history: 0 },
        ],
        monitor: {},
      },
    },
  });
}

/** Error sums of one day's points, added by hand. */
interface HandSums {
  points: number;
  absolute: number;
  nonZero: number;
  relative: number;
}

function addByHand(byDay: Map<string, HandSums>, day: string, values: ArrayLike<number>, expected: ArrayLike<number>): void {
  const sums = byDay.get(day) ?? { points: 0, absolute: 0, nonZero: 0, relative: 0 };
  for (let k = 0; k < values.length; k++) {
    if (!Number.isFinite(expected[k])) continue;
    const error = Math.abs(values[k] - expected[k]);
    sums.points++;
    sums.absolute += error;
    if (values[k] !== 0) {
      sums.nonZero++;
      sums.relative += error / Math.abs(values[k]);
    }
  }
  byDay.set(day, sums);
}

/** The row of a day as computed by hand; none when no point of the day had a forecast. */
function expectAccuracy(row: ForecastRow | undefined, hand: HandSums | undefined): void {
  if (hand === undefined || hand.points === 0) {
    expect(row).toBeUndefined();
    return;
  }
  expect(row).toBeDefined();
  expect(row!.points).toBe(hand.points);
  expect(row!.mae).toBeCloseTo(hand.absolute / hand.points, 9);
  expect(row!.mapePoints).toBe(hand.nonZero);
  expect(row!.mape).toBeCloseTo((100 * hand.relative) / hand.nonZero, 9);
}

describe('monitor: forecast accuracy of series detectors', () => {
  const config = meteredConfig();
  const readings = sampleReadings();
  let lake: FsLake;
  let store: Store;
  let services: RunServices;

  beforeAll(async () => {
    ({ lake, store, services } = await openTempServices('detour-forecasts-', { concurrency: 2 }));
    for (const day of DAYS) {
      const lines = ['meter,ts,reading', ...METERS.flatMap((meter) => HOURS.map((hour) => `${meter},${timestampOf(day, hour)},${readings.get(day)!.get(meter)![hour]}`))];
      await lake.put(`${partitionPrefix('bronze', 'meters', day)}readings.csv`, `${lines.join('\n')}\n`);
    }
  }, 60_000);
  afterAll(async () => {
    await services?.queue.close();
    await store?.close();
  });

  it('records per day and detector the MAE and MAPE (zero readings left out) of every point\'s forecast, as computed by hand', async () => {
    const result = await startRun(services, 'metered', runParamsOf(config, 'metered'), DAYS);
    expect(result.run.status).toBe('succeeded');
    const { forecasts } = await store.listMonitoring('metered', DAYS[0], DAYS.at(-1) as string);

    // The streaming detector: each meter's hours in order, one state carried from day to day.
    const stream = new Map<string, HandSums>();
    const params = seriesParams('stream', {}) as StreamParams;
    for (const meter of METERS) {
      const state = newStreamState();
      for (const day of DAYS) {
        const values = Float64Array.from(readings.get(day)!.get(meter)!);
        const { expected } = scoreStream(state, Float64Array.from(HOURS, (hour) => Date.parse(`${day}T${String(hour).padStart(2, '0')}:00:00Z`)), values, params);
        addByHand(stream, day, values, expected);
      }
    }
    // ARIMA: each meter's daily totals over the run's days, its one-step forecast of each.
    const arima = new Map<string, HandSums>();
    const step = config.pipelines.metered.detect[1];
    if (step.detector !== 'arima') throw new Error('the second step is ARIMA');
    for (const meter of METERS) {
      const totals = Float64Array.from(DAYS, (day) => readings.get(day)!.get(meter)!.reduce((sum, value) => sum + value, 0));
      const fitted = detectArimaAnomalies(totals, { maxP: step.maxP, maxQ: step.maxQ, order: step.order, intervalSigmas: step.intervalSigmas, minHistory: step.minHistory, period: step.period });
      if (fitted.skipped) continue;
      DAYS.forEach((day, t) => addByHand(arima, day, totals.subarray(t, t + 1), fitted.expected.subarray(t, t + 1)));
    }

    const stated = (day: string, detector: string) => forecasts.find((row) => row.date === day && row.detector === detector);
    for (const day of DAYS) {
      expectAccuracy(stated(day, 'stream'), stream.get(day));
      expectAccuracy(stated(day, 'arima'), arima.get(day));
    }
    // The streaming detector forecasts once it has learnt a few days; ARIMA every day of the window.
    const last = DAYS.at(-1) as string;
    expect(stated(last, 'stream')).toMatchObject({ model: null, points: 72, mapePoints: 66 }); // m3's six night hours read 0: not in MAPE
    expect(forecasts.filter((row) => row.detector === 'arima')).toHaveLength(DAYS.length);

    // The step's output says the same per date, and `detour monitor` prints it.
    const monitored = (await store.listSteps(result.run.id)).find((record) => record.step === 'monitor')?.output as { dates: Record<string, { forecasts: { detector: string; mae: number }[] }> };
    expect(monitored.dates[last].forecasts.find((row) => row.detector === 'stream')?.mae).toBe(stated(last, 'stream')!.mae);
    const text = monitorReportText('metered', DAYS[0], last, await store.listMonitoring('metered', DAYS[0], last), []);
    expect(text).toMatch(/date\s+detector\s+model\s+points\s+MAE\s+MAPE %\s+MAPE points/);
    expect(text).toMatch(new RegExp(`${last}\\s+stream\\s+-\\s+72\\s+${stated(last, 'stream')!.mae.toFixed(4)}\\s+${stated(last, 'stream')!.mape!.toFixed(4)}\\s+66`));
  }, 180_000);
});
