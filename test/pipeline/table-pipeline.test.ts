import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig, type TablePipelineConfig } from '../../src/config/index.js';
import { InputError, QualityGateError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { dateRange } from '../../src/dates.js';
import { pipelineLayout, type PublishedAnomaly, type RunResult, type RunSummary } from '../../src/pipeline/index.js';
import { SeededRandom } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

// A transit operator's bus departures: neither rides nor flights, declared in YAML alone.
const YAML = `
datasets:
  departures:
    columns:
      route: { type: string, from: ROUTE_ID }
      departed_at: { type: timestamp, from: DEP_TS }
      minutes_late: { type: number, from: LATE_MIN }
      passengers: { type: number, from: PAX, min: 0, required: false }
    expectations:
      - { type: row_count_between, min: 50, severity: fail }
      - { type: between, column: minutes_late, min: -30, max: 300, severity: warn }
pipelines:
  bus_delays:
    dataset: departures
    aggregate:
      - name: route_lateness
        sql: SELECT route, CAST(departed_at AS DATE) AS day, avg(minutes_late) AS avg_late, count(*) AS departures FROM departures GROUP BY ALL
    detect:
      - { detector: arima, table: route_lateness, entity: route, time: day, value: avg_late, order: [1, 0, 0], minHistory: 20 }
      - { detector: iforest, table: route_lateness, entity: route, time: day, features: [avg_late, departures], contamination: 0.02 }
`;

const ROUTES = ['B1', 'B2', 'B3', 'B4'];
const FROM = '2024-03-01';
const TO = '2024-04-14';
const INCIDENT = { route: 'B3', date: '2024-04-10' };

/** Raw CSV of one day, with the operator's own column names and a few bad rows. */
function departuresCsv(date: string, random: SeededRandom): string {
  const lines = ['ROUTE_ID,DEP_TS,LATE_MIN,PAX'];
  for (const route of ROUTES) {
    for (let trip = 0; trip < 30; trip++) {
      const incident = route === INCIDENT.route && date === INCIDENT.date ? 45 : 0;
      const late = 2 + ROUTES.indexOf(route) + random.normal() * 1.5 + incident;
      lines.push(`${route},${date} ${String(6 + (trip % 16)).padStart(2, '0')}:${String(trip % 60).padStart(2, '0')}:00,${late.toFixed(1)},${Math.round(20 + random.next() * 30)}`);
    }
  }
  lines.push(`B1,${date} 23:00:00,soon,12`, `B2,not-a-time,3.5,`, `,${date} 23:10:00,1.0,5`);
  return `${lines.join('\n')}\n`;
}

describe('a declarative pipeline defined in YAML alone', () => {
  let config: DetourConfig;
  let lake: FsLake;
  let store: Store;
  /** `config` with bus_delays overridden (the dataset and every other pipeline as declared). */
  const withPipeline = (overrides: Partial<TablePipelineConfig>): DetourConfig => ({
    ...config,
    pipelines: { ...config.pipelines, bus_delays: { ...config.pipelines.bus_delays, ...overrides } },
  });
  const run = (dates: string[], overrides: Partial<TablePipelineConfig> = {}) => runPipeline(lake, store, withPipeline(overrides), 'bus_delays', dates);
  const layoutOf = (date: string) => pipelineLayout('bus_delays', config.pipelines.bus_delays, date);
  /** What a run published, read back from every date's `anomalies.json`. */
  const published = async (dates: string[]) => {
    const rows: PublishedAnomaly[] = [];
    for (const date of dates) rows.push(...(JSON.parse((await lake.get(layoutOf(date).anomalies)).toString()) as PublishedAnomaly[]));
    return rows;
  };

  beforeAll(async () => {
    config = parseConfigText(YAML, 'detour.yaml');
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-table-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    const random = new SeededRandom(3);
    for (const date of dateRange(FROM, TO)) await lake.put(`bronze/departures/date=${date}/departures.csv`, departuresCsv(date, random));
  });
  afterAll(async () => {
    await store.close();
  });

  let result: RunResult;
  let summaries: RunSummary[];
  let anomalies: PublishedAnomaly[];

  it('cleans, renames, quarantines, checks, aggregates, detects and publishes a range', async () => {
    result = await run(dateRange(FROM, TO));
    summaries = result.summaries;
    anomalies = await published(dateRange(FROM, TO));
    expect(summaries).toHaveLength(45);
    expect(summaries.map((summary) => summary.logical_date)).toEqual(dateRange(FROM, TO));
    for (const summary of summaries) {
      // One run covers the whole range: every date's summary names it.
      expect(summary).toMatchObject({ pipeline: 'bus_delays', dataset: 'departures', run_id: result.run.id, rows_read: 123, rows_valid: 120, rows_quarantined: 3 });
      expect(summary.quarantine_reasons).toEqual({ 'non-numeric LATE_MIN': 1, 'invalid timestamp DEP_TS': 1, 'missing ROUTE_ID': 1 });
      expect(summary.quality.passed).toBe(true);
      expect(summary.aggregates).toEqual([{ name: 'route_lateness', rows: 4, key: `gold/route_lateness/date=${summary.logical_date}/data.parquet` }]);
      expect(summary.anomalies).toBe(anomalies.filter((anomaly) => anomaly.date === summary.logical_date).length);
    }
    // Silver holds the typed, renamed columns only.
    const layout = layoutOf(INCIDENT.date);
    expect(await lake.exists(layout.silver)).toBe(true);
    expect(await lake.exists(layout.quarantine)).toBe(true);

    // The incident day of route B3 is found by both detectors and published once, under its stable id.
    expect(anomalies.filter((anomaly) => anomaly.id === 'B320240410')).toHaveLength(1);
    const incident = anomalies.find((anomaly) => anomaly.id === 'B320240410');
    expect(incident).toMatchObject({ entity: 'B3', date: INCIDENT.date, detector: 'arima+iforest' });
    expect(incident?.value).toBeGreaterThan(40);
    expect(incident?.expected).toBeLessThan(10);
    expect(incident?.reason).toMatch(/^avg_late 4\d\.\d is \d+\.\dσ above the ARIMA\(1,0,0\) forecast/);
    expect(anomalies.length).toBeLessThan(20);

    const stored = await store.listAnomalies('bus_delays_anomalies', INCIDENT.date);
    expect(stored.find((row) => row.id === 'B320240410')).toMatchObject({ detector: 'arima+iforest', entity: 'B3', runId: result.run.id });
    const publishedOnIncidentDay = JSON.parse((await lake.get(layout.anomalies)).toString()) as PublishedAnomaly[];
    expect(publishedOnIncidentDay.map((row) => row.id)).toEqual(stored.map((row) => row.id));

    // Every date of the range is covered by that one succeeded run.
    expect(result.run).toMatchObject({ pipeline: 'bus_delays', logicalDate: FROM, endDate: TO, status: 'succeeded', rowsRead: 45 * 123, rowsQuarantined: 45 * 3, outliers: anomalies.length, error: null });
    const runs = await store.listRuns({ pipeline: 'bus_delays', limit: 100 });
    expect(runs.map((record) => [record.id, record.status])).toEqual([[result.run.id, 'succeeded']]);
    expect(await store.succeededDates('bus_delays', FROM, TO)).toEqual(dateRange(FROM, TO));
  });

  it('reruns idempotently: same anomalies, same bytes, no duplicate rows', async () => {
    const layout = layoutOf(INCIDENT.date);
    const before = await lake.get(layout.anomalies);
    const again = await run(dateRange(FROM, TO));
    expect(again.run.id).not.toBe(result.run.id);
    expect((await published(dateRange(FROM, TO))).map((row) => row.id)).toEqual(anomalies.map((row) => row.id));
    expect(again.summaries.reduce((sum, summary) => sum + summary.anomalies, 0)).toBe(anomalies.length);
    expect(await lake.get(layout.anomalies)).toEqual(before);
    const stored = await store.listAnomalies('bus_delays_anomalies', INCIDENT.date);
    expect(stored.length).toBe(anomalies.filter((row) => row.date === INCIDENT.date).length);
    expect(new Set(stored.map((row) => row.runId))).toEqual(new Set([again.run.id]));
  });

  it('a single daily run learns from the stored history and skips entities with too little of it', async () => {
    const { summaries: [day] } = await run([INCIDENT.date]);
    expect(day.detection_window).toEqual({ from: '2023-04-11', to: INCIDENT.date, flagged_from: INCIDENT.date, flagged_to: INCIDENT.date });
    expect(day.anomalies).toBeGreaterThanOrEqual(1);
    const early = await run([FROM]);
    expect(early.summaries[0].skipped).toEqual(ROUTES.map((route) => ({ entity: route, reason: 'arima: 1 observed values, fewer than minHistory 20' })));
  });

  it('stops before publishing when a fail expectation fails, storing the report', async () => {
    const before = await store.listAnomalies('bus_delays_anomalies', INCIDENT.date);
    const anomaliesBefore = await lake.get(layoutOf(INCIDENT.date).anomalies);
    const strict = parseConfigText(YAML.replace('min: 50, severity: fail', 'min: 500, severity: fail'), 'detour.yaml');
    const attempt = runPipeline(lake, store, strict, 'bus_delays', [INCIDENT.date]);
    await expect(attempt).rejects.toBeInstanceOf(QualityGateError);
    await expect(attempt).rejects.toThrow(/quality gate failed for departures on 2024-04-10: row count at least 500 \(observed 120\)/);
    const [failed] = await store.listRuns({ pipeline: 'bus_delays', limit: 1 });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/quality gate failed for departures on 2024-04-10/);
    expect((await store.listQualityResults(failed.id))[0]).toMatchObject({ passed: false, observed: 120 });
    expect(await store.listAnomalies('bus_delays_anomalies', INCIDENT.date)).toEqual(before);
    expect(await lake.get(layoutOf(INCIDENT.date).anomalies)).toEqual(anomaliesBefore);
  });

  it('in a range, reports and stores the quality of the dates up to the first that fails the gate, and of none after it', async () => {
    const dates = ['2024-06-01', '2024-06-02', '2024-06-03'];
    const random = new SeededRandom(5);
    await lake.put(`bronze/departures/date=${dates[0]}/departures.csv`, departuresCsv(dates[0], random));
    // Ten departures: below the row count of 50 the gate asks for.
    await lake.put(`bronze/departures/date=${dates[1]}/departures.csv`, departuresCsv(dates[1], random).split('\n').slice(0, 11).join('\n'));
    await lake.put(`bronze/departures/date=${dates[2]}/departures.csv`, departuresCsv(dates[2], random));
    await expect(run(dates)).rejects.toThrow(/quality gate failed for departures on 2024-06-02: row count at least 50 \(observed 10\)/);
    const [failed] = await store.listRuns({ pipeline: 'bus_delays', limit: 1 });
    expect(await Promise.all(dates.map((date) => lake.exists(layoutOf(date).quality)))).toEqual([true, true, false]);
    const stored = await Promise.all(dates.map((date) => store.listQualityResults(failed.id, date)));
    expect(stored.map((results) => results.find((result) => result.type === 'row_count_between')?.observed)).toEqual([120, 10, undefined]);
  });

  it.each([
    ['a missing partition', ['2024-05-01'], async () => undefined, /no input: bronze\/departures\/date=2024-05-01\/ is missing or empty/],
    // PAX is optional (required: false), so only LATE_MIN is missing; an absent optional column is NULL.
    ['a missing column', ['2024-05-02'], async () => lake.put('bronze/departures/date=2024-05-02/d.csv', 'ROUTE_ID,DEP_TS\nB1,2024-05-02 08:00:00\n'), /d\.csv: missing column LATE_MIN \(found: ROUTE_ID, DEP_TS\)$/],
    ['an empty file', ['2024-05-03'], async () => lake.put('bronze/departures/date=2024-05-03/d.csv', ''), /input has only empty files/],
    ['bad SQL in an aggregate', [INCIDENT.date], async () => undefined, /aggregate step route_lateness: .*no_such_column/],
    // A range run publishes all its dates or none: a date without input fails the dates that had one.
    ['a range with one missing date', [TO, '2024-04-15'], async () => undefined, /no input: bronze\/departures\/date=2024-04-15\/ is missing or empty/],
  ])('fails with one clear line on %s and publishes nothing', async (name, dates, prepare, message) => {
    await prepare();
    const watched = [...new Set([INCIDENT.date, ...dates])];
    const before = await Promise.all(watched.map((date) => store.listAnomalies('bus_delays_anomalies', date)));
    const jsonBefore = await Promise.all(watched.map(async (date) => ((await lake.exists(layoutOf(date).anomalies)) ? lake.get(layoutOf(date).anomalies) : null)));
    const overrides = name.startsWith('bad SQL') ? { aggregate: [{ name: 'route_lateness', sql: 'SELECT no_such_column FROM departures' }] } : {};
    const attempt = run(dates, overrides);
    await expect(attempt).rejects.toBeInstanceOf(InputError);
    await expect(attempt).rejects.toThrow(message);
    expect(await Promise.all(watched.map((date) => store.listAnomalies('bus_delays_anomalies', date)))).toEqual(before);
    expect(await Promise.all(watched.map(async (date) => ((await lake.exists(layoutOf(date).anomalies)) ? lake.get(layoutOf(date).anomalies) : null)))).toEqual(jsonBefore);
    const [failed] = await store.listRuns({ pipeline: 'bus_delays', limit: 1 });
    expect(failed).toMatchObject({ logicalDate: dates[0], endDate: dates[dates.length - 1], status: 'failed' });
    expect(failed.error).toMatch(message);
    expect((await store.listSteps(failed.id)).find((step) => step.step === 'publish')?.status).toBe('pending');
  });

  it('names the line of a config that points at a missing aggregate', () => {
    expect(() => parseConfigText(YAML.replace('table: route_lateness, entity: route, time: day, value', 'table: nope, entity: route, time: day, value'), 'detour.yaml')).toThrow(
      /^detour\.yaml:\d+: pipelines\.bus_delays\.detect\.0\.table: no aggregate step named "nope" \(aggregates: route_lateness\)$/,
    );
  });
});
