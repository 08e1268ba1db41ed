import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type SeriesStepConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { openEngine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';
import { detectSeries } from '../../src/pipeline/series-detect.js';
import { writeSampleFlights } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

const CONFIG = DetourConfigSchema.parse({});
const [ARIMA, IFOREST] = CONFIG.pipelines.flights.detect as SeriesStepConfig[];

/** 60 days of one airport's average delay: about 100 flights a day, delays 10 ± 3 min. */
function airportDays(entity: string, flights: (day: number) => number, delay: (day: number) => number) {
  const days = dateRange('2024-01-01', '2024-02-29');
  return {
    entity: days.map(() => entity),
    day: days,
    timeMs: Float64Array.from(days, (day) => Date.parse(day)),
    values: { avg_delay: Float64Array.from(days, (_, day) => delay(day)), flights: Float64Array.from(days, (_, day) => flights(day)) },
  };
}

const usualDelay = (day: number) => 10 + 3 * Math.sin(day / 2.3);

describe('series detectors weigh each value by the records behind it', () => {
  it('never flags, nor learns from, an airport-day of fewer than minSupport flights, and says how many flights stand behind a flagged one', () => {
    // Day 50: one late flight of the airport's three that day; day 55: 120 flights, all two hours late.
    const ord = airportDays('ORD', (day) => (day === 50 ? 3 : 100 + (day % 7)), (day) => (day === 50 ? 240 : day === 55 ? 130 : usualDelay(day)));
    // An airfield with a handful of flights a day: never enough to say anything.
    const sux = airportDays('SUX', () => 4, (day) => usualDelay(day) * 3);
    const table = { entity: [...ord.entity, ...sux.entity], day: [...ord.day, ...sux.day], timeMs: Float64Array.from([...ord.timeMs, ...sux.timeMs]), values: { avg_delay: Float64Array.from([...ord.values.avg_delay, ...sux.values.avg_delay]), flights: Float64Array.from([...ord.values.flights, ...sux.values.flights]) } };
    const range = { from: '2024-02-15', to: '2024-02-29', windowStart: '2024-01-01' };
    for (const step of [ARIMA, IFOREST]) {
      expect(step.minSupport).toBe(20);
      const { findings, skipped } = detectSeries(step, table, range);
      expect(findings.map((finding) => `${finding.entity} ${finding.date}`), step.detector).toEqual(['ORD 2024-02-25']);
      expect(findings[0].reason).toMatch(/^(avg_delay 130 over 106 flights is [\d.]+σ above the ARIMA|isolation score [\d.]+: avg_delay 130 over 106 flights \(usual for ORD)/);
      expect(findings[0].support).toEqual({ column: 'flights', records: 106 });
      expect(skipped).toEqual([{ entity: 'SUX', reason: `${step.detector}: fewer than 20 flights on every day` }]);
    }
    // Without a minimum, the one late flight of day 50 is the airport's anomaly too.
    const { support: _support, minSupport: _minSupport, ...unweighted } = ARIMA;
    const flagged = detectSeries({ ...unweighted, detector: 'arima' } as SeriesStepConfig, table, { ...range, from: '2024-02-19' }).findings;
    expect(flagged.map((finding) => `${finding.entity} ${finding.date}`)).toContain('ORD 2024-02-20');
  });
});

describe('the flights sample, January to June 2001', () => {
  let lake: FsLake;
  let store: Store;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-flights-support-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    const engine = await openEngine();
    try {
      await writeSampleFlights(engine, lake);
    } finally {
      await engine.close();
    }
  });
  afterAll(async () => {
    await store.close();
  });

  it('has none of its top 20 anomalies resting on fewer than 20 flights', async () => {
    const dates = dateRange('2001-01-01', '2001-06-30');
    const { run, summaries } = await runPipeline(lake, store, CONFIG, 'flights', dates);
    expect(run.status).toBe('succeeded');
    const published = (await Promise.all(dates.map((date) => store.listAnomalies('flights_anomalies', date)))).flat();
    expect(published.length).toBeGreaterThan(20);
    // Ranked as `detour run` prints them: by score.
    const top = [...published].sort((a, b) => b.score - a.score).slice(0, 20);
    for (const anomaly of top) {
      expect(anomaly.attributes?.flights, anomaly.id).toBeGreaterThanOrEqual(20);
      expect(anomaly.reason).toMatch(/ over \d+ flights/);
    }
    expect(published.every((anomaly) => (anomaly.attributes?.flights as number) >= 20)).toBe(true);
    // The airports left out are named, with why.
    expect(summaries[0].skipped).toContainEqual({ entity: expect.any(String) as unknown as string, reason: 'arima: fewer than 20 flights on every day' });
  });
});
