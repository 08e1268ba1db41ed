import { describe, expect, it } from 'vitest';
import { DetourConfigSchema, type DetectStepConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import type { SeriesTable } from '../../src/pipeline/entity-rows.js';
import { detectSeries } from '../../src/pipeline/series-detect.js';
import { detectArimaOnThreads } from '../../src/pipeline/series-threads.js';
import { SeededRandom } from '../../src/sample/index.js';

const [ARIMA] = DetourConfigSchema.parse({}).pipelines.flights.detect as Extract<DetectStepConfig, { detector: 'arima' }>[];
const DAYS = dateRange('2024-01-01', '2024-03-31');
const RANGE = { from: '2024-03-01', to: '2024-03-31', windowStart: DAYS[0] };

/** `airports` airports' daily delays over a quarter (a weekly cycle for every third), some days of too few flights, a few spikes. */
function airportTable(airports: number): SeriesTable {
  const random = new SeededRandom(5);
  const rows = Array.from({ length: airports }, (_, airport) => `A${String(airport).padStart(3, '0')}`).flatMap((entity, airport) =>
    DAYS.map((day, index) => {
      const weekly = airport % 3 === 0 ? [3, 3, 3, 3, 4, -6, -10][index % 7] : 0;
      const spike = random.next() < 0.02 ? 40 : 0;
      return { entity, day, delay: 12 + weekly + 4 * random.normal() + spike, flights: airport % 10 === 9 ? 5 : 40 + Math.floor(80 * random.next()) };
    }),
  );
  return {
    entity: rows.map(({ entity }) => entity),
    day: rows.map(({ day }) => day),
    timeMs: Float64Array.from(rows, ({ day }) => Date.parse(day)),
    values: { avg_delay: Float64Array.from(rows, ({ delay }) => delay), flights: Float64Array.from(rows, ({ flights }) => flights) },
  };
}

describe('ARIMA over a shard on several threads', () => {
  it('finds and skips exactly what one thread does, in the same order, and sums the same forecast errors', async () => {
    const table = airportTable(80);
    const { forecasts: aloneForecasts, ...alone } = detectSeries(ARIMA, table, RANGE);
    expect(alone.findings.length).toBeGreaterThan(10);
    expect(alone.skipped.length).toBeGreaterThan(0);
    const { forecasts, ...threaded } = await detectArimaOnThreads(ARIMA, table, RANGE);
    expect(threaded).toEqual(alone);
    // Each thread sums its own entities first: the same sums up to the order of additions.
    expect(forecasts).toHaveLength(dateRange(RANGE.from, RANGE.to).length);
    forecasts!.forEach((sums, k) => {
      const { absoluteError, relativeError, ...counts } = aloneForecasts![k];
      expect(sums).toMatchObject(counts);
      expect(sums.absoluteError).toBeCloseTo(absoluteError, 8);
      expect(sums.relativeError).toBeCloseTo(relativeError, 8);
    });
  });
});
