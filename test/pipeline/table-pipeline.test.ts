import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig, type TablePipelineConfig } from '../../src/config/index.js';
import { InputError, QualityGateError } from '../../src/errors.js';
import { dateRange, FsLake } from '../../src/lake/index.js';
import { runTablePipeline, tableLayout, type PublishedAnomaly, type TableRunSummary } from '../../src/pipeline/index.js';
import { SeededRandom } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';

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
  let pipeline: TablePipelineConfig;
  let lake: FsLake;
  let store: Store;
  const run = (dates: string[], overrides: Partial<TablePipelineConfig> = {}) =>
    runTablePipeline({ lake, store }, 'bus_delays', { ...pipeline, ...overrides }, config.datasets.departures, dates);

  beforeAll(async () => {
    config = parseConfigText(YAML, 'detour.yaml');
    pipeline = config.pipelines.bus_delays as TablePipelineConfig;
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-table-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    const random = new SeededRandom(3);
    for (const date of dateRange(FROM, TO)) await lake.put(`bronze/departures/date=${date}/departures.csv`, departuresCsv(date, random));
  });
  afterAll(async () => {
    await store.close();
  });

  let summaries: TableRunSummary[];
  let anomalies: PublishedAnomaly[];

  it('cleans, renames, quarantines, checks, aggregates, detects and publishes a range', async () => {
    ({ summaries, anomalies } = await run(dateRange(FROM, TO)));
    expect(summaries).toHaveLength(45);
    for (const summary of summaries) {
      expect(summary).toMatchObject({ rows_read: 123, rows_valid: 120, rows_quarantined: 3 });
      expect(summary.quarantine_reasons).toEqual({ 'non-numeric LATE_MIN': 1, 'invalid timestamp DEP_TS': 1, 'missing ROUTE_ID': 1 });
      expect(summary.quality.passed).toBe(true);
      expect(summary.aggregates).toEqual([{ name: 'route_lateness', rows: 4, key: `gold/route_lateness/date=${summary.logical_date}/data.parquet` }]);
    }
    // Silver holds the typed, renamed columns only.
    const layout = tableLayout('bus_delays', 'departures', INCIDENT.date);
    expect(await lake.exists(layout.silver)).toBe(true);
    expect(await lake.exists(layout.quarantine)).toBe(true);

    // The incident day of route B3 is found by both detectors and published once, under its stable id.
    const incident = anomalies.find((anomaly) => anomaly.id === 'B320240410');
    expect(incident).toMatchObject({ entity: 'B3', date: INCIDENT.date, detector: 'arima+iforest' });
    expect(incident?.value).toBeGreaterThan(40);
    expect(incident?.expected).toBeLessThan(10);
    expect(incident?.reason).toMatch(/^avg_late 4\d\.\d is \d+\.\dσ above the ARIMA\(1,0,0\) forecast/);
    expect(anomalies.length).toBeLessThan(20);

    const stored = await store.listAnomalies('bus_delays_anomalies', INCIDENT.date);
    expect(stored.find((row) => row.id === 'B320240410')).toMatchObject({ detector: 'arima+iforest', entity: 'B3', runId: summaries.find((s) => s.logical_date === INCIDENT.date)?.run_id });
    const published = JSON.parse((await lake.get(layout.anomalies)).toString()) as PublishedAnomaly[];
    expect(published.map((row) => row.id)).toEqual(stored.map((row) => row.id));
    const runs = await store.listRuns({ pipeline: 'bus_delays', limit: 100 });
    expect(runs.filter((record) => record.status === 'succeeded')).toHaveLength(45);
  });

  it('reruns idempotently: same anomalies, same bytes, no duplicate rows', async () => {
    const layout = tableLayout('bus_delays', 'departures', INCIDENT.date);
    const before = await lake.get(layout.anomalies);
    const again = await run(dateRange(FROM, TO));
    expect(again.anomalies.map((row) => row.id)).toEqual(anomalies.map((row) => row.id));
    expect(await lake.get(layout.anomalies)).toEqual(before);
    expect((await store.listAnomalies('bus_delays_anomalies', INCIDENT.date)).length).toBe(anomalies.filter((row) => row.date === INCIDENT.date).length);
  });

  it('a single daily run learns from the stored history and skips entities with too little of it', async () => {
    const { summaries: [day] } = await run([INCIDENT.date]);
    expect(day.detection_window).toEqual({ from: '2023-04-11', to: INCIDENT.date, flagged_from: INCIDENT.date, flagged_to: INCIDENT.date });
    expect(day.anomalies).toBeGreaterThanOrEqual(1);
    const early = await run([FROM]);
    expect(early.summaries[0].skipped).toEqual(ROUTES.map((route) => ({ entity: route, reason: 'arima: 1 observed values, fewer than minHistory 20' })));
  });

  it('stops before publishing when a fail expectation fails, storing the report', async () => {
    const strict = parseConfigText(YAML.replace('min: 50, severity: fail', 'min: 500, severity: fail'), 'detour.yaml');
    const attempt = runTablePipeline({ lake, store }, 'bus_delays', pipeline, strict.datasets.departures, [INCIDENT.date]);
    await expect(attempt).rejects.toBeInstanceOf(QualityGateError);
    await expect(attempt).rejects.toThrow(/quality gate failed for departures on 2024-04-10: row count at least 500 \(observed 120\)/);
    const [failed] = await store.listRuns({ pipeline: 'bus_delays', limit: 1 });
    expect(failed.status).toBe('failed');
    expect((await store.listQualityResults(failed.id))[0]).toMatchObject({ passed: false, observed: 120 });
  });

  it.each([
    ['a missing partition', '2024-05-01', async () => undefined, /no input: bronze\/departures\/date=2024-05-01\/ is missing or empty/],
    ['a missing column', '2024-05-02', async () => lake.put('bronze/departures/date=2024-05-02/d.csv', 'ROUTE_ID,DEP_TS\nB1,2024-05-02 08:00:00\n'), /d\.csv: missing columns LATE_MIN, PAX/],
    ['an empty file', '2024-05-03', async () => lake.put('bronze/departures/date=2024-05-03/d.csv', ''), /input has only empty files/],
    ['bad SQL in an aggregate', INCIDENT.date, async () => undefined, /aggregate step route_lateness: .*no_such_column/],
  ])('fails with one clear line on %s and publishes nothing', async (name, date, prepare, message) => {
    await prepare();
    const before = await store.listAnomalies('bus_delays_anomalies', INCIDENT.date);
    const overrides = name.startsWith('bad SQL') ? { aggregate: [{ name: 'route_lateness', sql: 'SELECT no_such_column FROM departures' }] } : {};
    const attempt = run([date], overrides);
    await expect(attempt).rejects.toBeInstanceOf(InputError);
    await expect(attempt).rejects.toThrow(message);
    expect(await store.listAnomalies('bus_delays_anomalies', INCIDENT.date)).toEqual(before);
    const [failed] = await store.listRuns({ pipeline: 'bus_delays', limit: 1 });
    expect(failed).toMatchObject({ logicalDate: date, status: 'failed' });
  });

  it('names the line of a config that points at a missing aggregate', () => {
    expect(() => parseConfigText(YAML.replace('table: route_lateness, entity: route, time: day, value', 'table: nope, entity: route, time: day, value'), 'detour.yaml')).toThrow(
      /^detour\.yaml:\d+: pipelines\.bus_delays\.detect\.0\.table: no aggregate step named "nope" \(aggregates: route_lateness\)$/,
    );
  });
});
