import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_LINE_MAX, InputError, NotFoundError, TransientError, UnavailableError } from '../../src/errors.js';
import { LeaseLostError, openStore, type OpenStoreOptions, type AnomalyRow, type Lease, type NewModelVersion, type Store } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** How to get a fresh, empty database for one adapter, and how to throw it away. */
interface Adapter {
  name: string;
  prepare(): Promise<{ options: OpenStoreOptions; cleanup(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'pglite',
    prepare: async () => {
      const stateDir = await mkdtemp(join(tmpdir(), 'detour-store-'));
      return { options: { stateDir }, cleanup: () => rm(stateDir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'postgres',
    prepare: async () => {
      const database = await createTestDatabase();
      // stateDir must be ignored when a database URL is given; a missing folder proves it.
      return { options: { databaseUrl: database.url, stateDir: '/nonexistent/detour' }, cleanup: () => database.drop() };
    },
  },
];

/** The lease of a coordinator that lives through the test. */
const lease: Lease = { owner: 'test-host:1', seconds: 600 };

/** A record-level anomaly (an outlier ride), as DBSCAN publishes it, with the ride's fields as attributes. */
function ride(index: number, overrides: Partial<AnomalyRow> = {}): AnomalyRow {
  return {
    id: `ride-${String(index).padStart(6, '0')}`,
    detector: 'dbscan',
    entity: `taxi-${index % 97}`,
    value: 7.25 + index / 100,
    expected: 5,
    lower: 2,
    upper: 9.5,
    score: index / 3,
    reason: `ride time ${index} min`,
    attributes: { ride_dist_km: 1.5 + index / 1000, ride_time_min: 7.25 + index / 100, label: -1 },
    ...overrides,
  };
}

function rides(count: number): AnomalyRow[] {
  return Array.from({ length: count }, (_, index) => ride(index));
}

/** What listAnomalies should return for `rows` published by `runId`. */
function published(rows: AnomalyRow[], runId: string): (AnomalyRow & { runId: string })[] {
  return rows.map((row) => ({ ...row, runId })).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

describe.each(adapters)('Store on $name', (adapter) => {
  let store: Store;
  let cleanup: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const prepared = await adapter.prepare();
    cleanup = prepared.cleanup;
    store = await openStore(prepared.options);
  });

  afterAll(async () => {
    await store?.close();
    await cleanup();
  });

  it('describes where it stores data', () => {
    expect(store.description).toMatch(adapter.name === 'pglite' ? /^pglite:.*db$/ : /^postgres:\/\/postgres@127\.0\.0\.1:5432\/detour_test_/);
  });

  describe('runs', () => {
    it('starts a run as running with a time-sortable id and round-trips its params', async () => {
      const params = { detector: 'speed', threshold: 3.5, tags: ['a', 'b'], nested: { on: true, none: null } };
      const before = Date.now();
      const run = await store.startRun({ lease, pipeline: 'p-start', logicalDate: '2024-01-31', params });

      expect(run.id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
      expect(run).toMatchObject({
        pipeline: 'p-start',
        logicalDate: '2024-01-31',
        params,
        status: 'running',
        finishedAt: null,
        rowsRead: null,
        rowsQuarantined: null,
        outliers: null,
        error: null,
      });
      expect(run.startedAt).toBeInstanceOf(Date);
      expect(run.startedAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(await store.getRun(run.id)).toEqual(run);
    });

    it('finishes a run with its counts as numbers', async () => {
      const run = await store.startRun({ lease, pipeline: 'p-finish', logicalDate: '2024-02-29', params: {} });
      const finished = await store.finishRun(run.id, {
        status: 'succeeded',
        rowsRead: 3_000_000_000,
        rowsQuarantined: 12,
        outliers: 0,
      });

      expect(finished).toMatchObject({ id: run.id, status: 'succeeded', rowsRead: 3_000_000_000, rowsQuarantined: 12, outliers: 0, error: null });
      expect(finished.finishedAt).toBeInstanceOf(Date);
      expect(finished.finishedAt!.getTime()).toBeGreaterThanOrEqual(run.startedAt.getTime());
      expect(await store.getRun(run.id)).toEqual(finished);
    });

    it('records a failed run with its error and no counts', async () => {
      const run = await store.startRun({ lease, pipeline: 'p-fail', logicalDate: '2024-03-01', params: {} });
      const failed = await store.finishRun(run.id, { status: 'failed', error: 'lake object missing: bronze/x.csv' });

      expect(failed).toMatchObject({ status: 'failed', error: 'lake object missing: bronze/x.csv', rowsRead: null, outliers: null });
      expect((await store.getRun(run.id)).status).toBe('failed');
    });

    it('refuses to finish a run twice or an unknown run', async () => {
      const run = await store.startRun({ lease, pipeline: 'p-twice', logicalDate: '2024-03-02', params: {} });
      await store.finishRun(run.id, { status: 'succeeded' });

      await expect(store.finishRun(run.id, { status: 'failed', error: 'late' })).rejects.toThrow(/already finished as succeeded/);
      await expect(store.finishRun('20990101T000000Z-000000', { status: 'succeeded' })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists runs newest first, filtered by pipeline and limited', async () => {
      const ids: string[] = [];
      for (const logicalDate of ['2024-04-01', '2024-04-02', '2024-04-03']) {
        ids.push((await store.startRun({ lease, pipeline: 'p-list', logicalDate, params: {} })).id);
        await sleep(5); // distinct start times, so that the order is by time and not by chance
      }
      await store.startRun({ lease, pipeline: 'p-list-other', logicalDate: '2024-04-04', params: {} });

      const listed = await store.listRuns({ pipeline: 'p-list' });
      expect(listed.map((run) => run.id)).toEqual([...ids].reverse());
      expect(listed.map((run) => run.logicalDate)).toEqual(['2024-04-03', '2024-04-02', '2024-04-01']);

      expect((await store.listRuns({ pipeline: 'p-list', limit: 2 })).map((run) => run.id)).toEqual([ids[2], ids[1]]);

      const all = await store.listRuns();
      expect(all.map((run) => run.pipeline)).toContain('p-list-other');
      const startTimes = all.map((run) => run.startedAt.getTime());
      expect(startTimes).toEqual([...startTimes].sort((a, b) => b - a));

      expect(await store.listRuns({ pipeline: 'p-no-such-pipeline' })).toEqual([]);
      await expect(store.listRuns({ limit: 0 })).rejects.toBeInstanceOf(InputError);
    });

    it('finds the runs an event started by their trigger, newest first, and no others', async () => {
      const landed = (sha: string) => ({ landed: { dataset: 'trips', date: '2024-04-05', key: 'bronze/trips/date=2024-04-05/a.csv', sha256: sha.repeat(64) } });
      const first = await store.startRun({ lease, pipeline: 'p-trigger', logicalDate: '2024-04-05', params: { pipeline: { dataset: 'trips' }, trigger: landed('a') } });
      await sleep(5);
      const second = await store.startRun({ lease, pipeline: 'p-trigger', logicalDate: '2024-04-05', params: { trigger: landed('a') } });
      await store.startRun({ lease, pipeline: 'p-trigger', logicalDate: '2024-04-05', params: { trigger: landed('b') } });
      await store.startRun({ lease, pipeline: 'p-trigger', logicalDate: '2024-04-05', params: {} });
      await store.startRun({ lease, pipeline: 'p-trigger-other', logicalDate: '2024-04-05', params: { trigger: landed('a') } });

      expect((await store.runsTriggeredBy('p-trigger', landed('a'))).map((run) => run.id)).toEqual([second.id, first.id]);
      expect(await store.runsTriggeredBy('p-trigger', landed('c'))).toEqual([]);
    });

    it('filters runs by status and dates, and pages them newest first after a cursor', async () => {
      const started = [];
      for (const [logicalDate, endDate] of [['2024-05-01', '2024-05-01'], ['2024-05-02', '2024-05-04'], ['2024-05-05', '2024-05-05']]) {
        started.push(await store.startRun({ lease, pipeline: 'p-page', logicalDate, endDate, params: {} }));
        await sleep(5);
      }
      await store.finishRun(started[0].id, { status: 'failed', error: 'no input' });
      const ids = (options: Parameters<Store['listRuns']>[0]) => store.listRuns({ pipeline: 'p-page', ...options }).then((runs) => runs.map((run) => run.id));
      expect(await ids({ status: 'failed' })).toEqual([started[0].id]);
      expect(await ids({ status: 'running' })).toEqual([started[2].id, started[1].id]);
      // Runs whose dates reach into [from, to]: the range run 05-02..05-04 covers 05-03.
      expect(await ids({ from: '2024-05-03', to: '2024-05-03' })).toEqual([started[1].id]);
      expect(await ids({ from: '2024-05-04' })).toEqual([started[2].id, started[1].id]);
      expect(await ids({ to: '2024-05-01' })).toEqual([started[0].id]);
      const [first] = await store.listRuns({ pipeline: 'p-page', limit: 1 });
      expect(await ids({ after: { startedAt: first.startedAt, id: first.id } })).toEqual([started[1].id, started[0].id]);
      await expect(store.listRuns({ from: '2024-13-01' })).rejects.toBeInstanceOf(InputError);
    });

    it('finds a run by unique prefix and reports ambiguous or unknown ones', async () => {
      const run = await store.startRun({ lease, pipeline: 'p-prefix', logicalDate: '2024-05-01', params: {} });
      await store.startRun({ lease, pipeline: 'p-prefix', logicalDate: '2024-05-02', params: {} });

      // The random suffix makes the id minus its last character unique in practice.
      expect((await store.getRun(run.id.slice(0, -1))).id).toBe(run.id);
      expect((await store.getRun(` ${run.id} `)).id).toBe(run.id);

      const total = (await store.listRuns()).length;
      const ambiguous = store.getRun('2');
      await expect(ambiguous).rejects.toBeInstanceOf(InputError);
      await expect(ambiguous).rejects.not.toBeInstanceOf(NotFoundError);
      await expect(ambiguous).rejects.toThrow(new RegExp(`ambiguous: it matches ${total} runs`));

      await expect(store.getRun('1999')).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.getRun('  ')).rejects.toBeInstanceOf(InputError);
    });

    it('rejects a malformed run as an InputError before touching the database', async () => {
      await expect(store.startRun({ lease, pipeline: 'p-bad', logicalDate: '2024-02-30', params: {} })).rejects.toThrow(/YYYY-MM-DD/);
      await expect(store.startRun({ lease, pipeline: 'p-bad', logicalDate: '01/02/2024', params: {} })).rejects.toBeInstanceOf(InputError);
      await expect(store.startRun({ lease, pipeline: '', logicalDate: '2024-01-01', params: {} })).rejects.toBeInstanceOf(InputError);
      const started = await store.startRun({ lease, pipeline: 'p-bad', logicalDate: '2024-01-01', params: {} });
      await expect(store.finishRun(started.id, { status: 'succeeded', rowsRead: -1 })).rejects.toBeInstanceOf(InputError);
    });
  });

  describe('record anomalies (ride_anomalies)', () => {
    it('publishes rows and is idempotent when the same rows are published again', async () => {
      const rows = [ride(3), ride(1), ride(2, { reason: `quote ' and "double" {braces}, backslash \\` })];
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-01', rows }]);
      const first = await store.listAnomalies('ride_anomalies', '2024-06-01');
      expect(first).toEqual(published(rows, 'run-a'));

      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-01', rows }]);
      expect(await store.listAnomalies('ride_anomalies', '2024-06-01')).toEqual(first);
    });

    it('replaces a changed set: removed rides deleted, changed ones updated, new ones added', async () => {
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-02', rows: [ride(1), ride(2), ride(3)] }]);
      const next = [ride(2, { score: 99.5, attributes: { label: -1, rescored: true }, reason: 'rescored' }), ride(3), ride(4)];
      await store.replaceAnomalies('ride_anomalies', 'run-b', [{ logicalDate: '2024-06-02', rows: next }]);

      expect(await store.listAnomalies('ride_anomalies', '2024-06-02')).toEqual(published(next, 'run-b'));
    });

    it('leaves rows of other dates untouched', async () => {
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-03', rows: [ride(1), ride(2)] }]);
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-04', rows: [ride(1), ride(5)] }]);
      await store.replaceAnomalies('ride_anomalies', 'run-b', [{ logicalDate: '2024-06-04', rows: [ride(7)] }]);
      await store.replaceAnomalies('ride_anomalies', 'run-c', [{ logicalDate: '2024-06-05', rows: [] }]);

      expect(await store.listAnomalies('ride_anomalies', '2024-06-03')).toEqual(published([ride(1), ride(2)], 'run-a'));
      expect(await store.listAnomalies('ride_anomalies', '2024-06-04')).toEqual(published([ride(7)], 'run-b'));
      expect(await store.listAnomalies('ride_anomalies', '2024-06-05')).toEqual([]);
    });

    it('replaces several dates in one call, each date exactly its own rows, an id recurring on other dates', async () => {
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-10', rows: [ride(1), ride(2)] }]);
      await store.replaceAnomalies('ride_anomalies', 'run-b', [
        { logicalDate: '2024-06-10', rows: [ride(2, { reason: 'again' })] },
        { logicalDate: '2024-06-11', rows: [ride(1), ride(2)] },
        { logicalDate: '2024-06-12', rows: [] },
      ]);
      expect(await store.listAnomalies('ride_anomalies', '2024-06-10')).toEqual(published([ride(2, { reason: 'again' })], 'run-b'));
      expect(await store.listAnomalies('ride_anomalies', '2024-06-11')).toEqual(published([ride(1), ride(2)], 'run-b'));
      expect(await store.listAnomalies('ride_anomalies', '2024-06-12')).toEqual([]);
    });

    it('publishing no rows clears the date', async () => {
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-06', rows: [ride(1), ride(2)] }]);
      await store.replaceAnomalies('ride_anomalies', 'run-b', [{ logicalDate: '2024-06-06', rows: [] }]);
      expect(await store.listAnomalies('ride_anomalies', '2024-06-06')).toEqual([]);
    });

    it('publishes 20k rows in batches and replaces them with an overlapping set', async () => {
      const rows = rides(20_000);
      await store.replaceAnomalies('ride_anomalies', 'run-big', [{ logicalDate: '2024-06-07', rows }]);
      const listed = await store.listAnomalies('ride_anomalies', '2024-06-07');
      expect(listed).toHaveLength(20_000);
      expect(listed[12_345]).toEqual({ ...ride(12_345), runId: 'run-big' });

      const shifted = rides(25_000).slice(5_000);
      await store.replaceAnomalies('ride_anomalies', 'run-big-2', [{ logicalDate: '2024-06-07', rows: shifted }]);
      const relisted = await store.listAnomalies('ride_anomalies', '2024-06-07');
      expect(relisted).toHaveLength(20_000);
      expect(relisted[0]).toEqual({ ...ride(5_000), runId: 'run-big-2' });
      expect(relisted.at(-1)).toEqual({ ...ride(24_999), runId: 'run-big-2' });
    });

    it('changes nothing when publishing fails part-way through', async () => {
      const before = [ride(1), ride(2)];
      await store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-08', rows: before }]);
      // The bad row sits in the second batch, after the first batch has been upserted.
      const failing = rides(6_000);
      failing[5_999] = ride(5_999, { score: null as unknown as number });

      await expect(store.replaceAnomalies('ride_anomalies', 'run-b', [{ logicalDate: '2024-06-08', rows: failing }])).rejects.toThrow(/null value in column "score"/);
      expect(await store.listAnomalies('ride_anomalies', '2024-06-08')).toEqual(published(before, 'run-a'));
    });

    it('rejects duplicate ride ids and a malformed date', async () => {
      await expect(store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-06-09', rows: [ride(1), ride(1)] }])).rejects.toThrow(/anomaly ids must be unique within 2024-06-09/);
      await expect(store.replaceAnomalies('ride_anomalies', 'run-a', [{ logicalDate: '2024-6-9', rows: [] }])).rejects.toBeInstanceOf(InputError);
    });
  });

  describe('pipeline anomalies', () => {
    const anomaly = (entity: string, date: string, score: number) => ({
      id: `${entity}${date.replaceAll('-', '')}`,
      detector: 'arima',
      entity,
      value: 42.5,
      expected: 10,
      lower: null,
      upper: 30,
      score,
      reason: `avg_delay high for ${entity}`,
      attributes: null,
    });

    it('creates the table on first use, upserts by stable id, and replaces a date exactly', async () => {
      expect(await store.listAnomalies('flights_anomalies', '2001-01-05')).toEqual([]);
      await store.replaceAnomalies('flights_anomalies', 'run-1', [{ logicalDate: '2001-01-05', rows: [anomaly('ORD', '2001-01-05', 0.99), anomaly('DEN', '2001-01-05', 0.97)] }]);
      await store.replaceAnomalies('flights_anomalies', 'run-2', [{ logicalDate: '2001-01-06', rows: [anomaly('ORD', '2001-01-06', 0.98)] }]);
      await store.replaceAnomalies('flights_anomalies', 'run-3', [{ logicalDate: '2001-01-05', rows: [anomaly('ORD', '2001-01-05', 0.995)] }]);
      expect(await store.listAnomalies('flights_anomalies', '2001-01-05')).toEqual([{ ...anomaly('ORD', '2001-01-05', 0.995), runId: 'run-3' }]);
      expect((await store.listAnomalies('flights_anomalies', '2001-01-06')).map((row) => row.id)).toEqual(['ORD20010106']);
    });

    it('pages a table by (date, id) after a cursor, filtered by dates, entity and score', async () => {
      const table = 'paged_anomalies';
      expect(await store.listAnomalyPage(table, { limit: 10 })).toEqual([]);
      for (const date of ['2001-02-01', '2001-02-02', '2001-02-03']) {
        await store.replaceAnomalies(table, `run-${date}`, [{ logicalDate: date, rows: [anomaly('ORD', date, 0.9), anomaly('DEN', date, 0.4), anomaly('ATL', date, 0.7)] }]);
      }
      const keys = (rows: { date: string; id: string }[]) => rows.map((row) => `${row.date} ${row.id}`);
      const all = await store.listAnomalyPage(table, { limit: 100 });
      expect(all[0]).toEqual({ ...anomaly('ATL', '2001-02-01', 0.7), date: '2001-02-01', runId: 'run-2001-02-01' });
      expect(keys(all)).toEqual(['2001-02-01 ATL20010201', '2001-02-01 DEN20010201', '2001-02-01 ORD20010201', '2001-02-02 ATL20010202', '2001-02-02 DEN20010202', '2001-02-02 ORD20010202', '2001-02-03 ATL20010203', '2001-02-03 DEN20010203', '2001-02-03 ORD20010203']);
      const pages: string[] = [];
      let after: { date: string; id: string } | undefined;
      for (;;) {
        const page = await store.listAnomalyPage(table, { limit: 4, after });
        pages.push(...keys(page));
        if (page.length < 4) break;
        after = page[3];
      }
      expect(pages).toEqual(keys(all));
      expect(keys(await store.listAnomalyPage(table, { limit: 100, from: '2001-02-02', to: '2001-02-02' }))).toEqual(['2001-02-02 ATL20010202', '2001-02-02 DEN20010202', '2001-02-02 ORD20010202']);
      expect(keys(await store.listAnomalyPage(table, { limit: 100, entity: 'DEN', minScore: 0.3 }))).toEqual(['2001-02-01 DEN20010201', '2001-02-02 DEN20010202', '2001-02-03 DEN20010203']);
      expect(await store.listAnomalyPage(table, { limit: 100, minScore: 0.95 })).toEqual([]);
      await expect(store.listAnomalyPage(table, { limit: 0 })).rejects.toBeInstanceOf(InputError);
    });

    it('refuses a table name that is not a safe *_anomalies identifier', async () => {
      await expect(store.replaceAnomalies('flights; DROP TABLE x', 'run-1', [{ logicalDate: '2001-01-05', rows: [] }])).rejects.toBeInstanceOf(InputError);
      await expect(store.listAnomalies('detour_runs', '2001-01-05')).rejects.toThrow(/must be lower_snake_case and end in _anomalies/);
    });
  });

  describe('predictions', () => {
    const model = { name: 'trip_service', version: 3 };
    const prediction = (index: number, probability = index / 1000) => ({ id: `trip-${String(index).padStart(5, '0')}`, probability, features: { temperature: 12.5 - index / 10, mileage: index } });
    const stored = (rows: ReturnType<typeof prediction>[], runId: string, by = model) => rows.map((row) => ({ ...row, model: by, runId }));

    it('creates the table on first use and makes a date exactly the rows given, in batches, leaving other dates alone', async () => {
      expect(await store.listPredictions('fleet_predictions', '2024-05-01')).toEqual([]);
      const rows = Array.from({ length: 12_000 }, (_, index) => prediction(index));
      await store.replacePredictions('fleet_predictions', '2024-05-01', 'run-1', model, rows);
      await store.replacePredictions('fleet_predictions', '2024-05-02', 'run-1', model, [prediction(1)]);
      const listed = await store.listPredictions('fleet_predictions', '2024-05-01');
      expect(listed).toHaveLength(12_000);
      expect(listed[11_999]).toEqual(stored([prediction(11_999)], 'run-1')[0]);
      // A rerun with another version: rows updated, rows no longer predicted removed, the same again changes nothing.
      const next = [prediction(2, 0.5), prediction(12_000)];
      const newer = { name: 'trip_service', version: 4 };
      await store.replacePredictions('fleet_predictions', '2024-05-01', 'run-2', newer, next);
      await store.replacePredictions('fleet_predictions', '2024-05-01', 'run-2', newer, next);
      expect(await store.listPredictions('fleet_predictions', '2024-05-01')).toEqual(stored(next, 'run-2', newer));
      expect(await store.listPredictions('fleet_predictions', '2024-05-02')).toEqual(stored([prediction(1)], 'run-1'));
    });

    it('lets two writers replacing the same date at once take turns: the date holds one of them whole', async () => {
      const first = Array.from({ length: 3_000 }, (_, index) => prediction(index));
      const second = Array.from({ length: 2_000 }, (_, index) => prediction(index + 1_500, 0.25));
      await Promise.all([
        store.replacePredictions('fleet_predictions', '2024-05-04', 'run-a', model, first),
        store.replacePredictions('fleet_predictions', '2024-05-04', 'run-b', model, second),
      ]);
      const listed = await store.listPredictions('fleet_predictions', '2024-05-04');
      expect([stored(first, 'run-a'), stored(second, 'run-b')]).toContainEqual(listed);
    });

    it('refuses duplicate ids, rows of other features, a malformed date and a table name that is not a safe *_predictions identifier', async () => {
      await expect(store.replacePredictions('fleet_predictions', '2024-05-03', 'run-1', model, [prediction(1), prediction(1)])).rejects.toThrow(/prediction ids must be unique within 2024-05-03/);
      await expect(store.replacePredictions('fleet_predictions', '2024-05-03', 'run-1', model, [prediction(1), { id: 'trip-9', probability: 0.5, features: { temperature: 1 } }])).rejects.toThrow(
        new InputError('predictions of 2024-05-03 must all have the features temperature, mileage; trip-9 has temperature'),
      );
      await expect(store.replacePredictions('fleet_predictions', '2024-5-3', 'run-1', model, [])).rejects.toBeInstanceOf(InputError);
      await expect(store.listPredictions('detour_runs', '2024-05-03')).rejects.toThrow(/must be lower_snake_case and end in _predictions/);
    });
  });

  describe('monitoring, feedback and alarms', () => {
    const model = { name: 'trip_service', version: 2 };
    const performance = (date: string, matched: number, auc: number | null) => ({ date, model, predictions: 500, matched, positives: 20, auc, logLoss: 0.2, brier: 0.05, calibration: [{ from: 0, to: 0.1, rows: matched, mean_probability: 0.04, observed_rate: 0.04 }] });
    const drift = (date: string, feature: string, psi: number | null) => ({ date, model, feature, windowDays: 7, rows: 3500, constant: psi === null, psi, ks: psi === null ? null : psi / 10 });
    const day = (date: string, actuals: number) => ({ date, actuals, unmatchedActuals: 3, flagged: 9, truePositives: 2, falsePositives: 1, falseNegatives: 0 });
    const forecast = (date: string, detector: string, mae: number, mape: number | null) => ({ date, detector, model: detector === 'autoencoder' ? { name: 'trip_ae', version: 3 } : null, points: 48, mae, mapePoints: mape === null ? 0 : 40, mape });

    it('replaces a (date, version)\'s performance as ground truth arrives, and a date\'s drift, forecast accuracy and counts whole', async () => {
      await store.recordMonitoring('trips', 'run-1', {
        performance: [performance('2024-06-01', 0, null)],
        drift: [drift('2024-06-01', 'mileage', 0.05), drift('2024-06-01', 'score', 0.3)],
        days: [day('2024-06-01', 0)],
        forecasts: [forecast('2024-06-01', 'arima', 1.5, 12.5), forecast('2024-06-01', 'stream', 2, 20)],
      });
      await store.recordMonitoring('trips', 'run-2', {
        performance: [performance('2024-06-01', 480, 0.71), performance('2024-06-03', 100, 0.65)],
        drift: [drift('2024-06-01', 'temperature', null)],
        days: [day('2024-06-01', 480)],
        forecasts: [forecast('2024-06-01', 'autoencoder', 0.25, null), forecast('2024-06-01', 'arima', 1.25, 10)],
      });
      const report = await store.listMonitoring('trips', '2024-06-01', '2024-06-02');
      expect(report.performance).toEqual([performance('2024-06-01', 480, 0.71)]);
      expect(report.drift).toEqual([drift('2024-06-01', 'temperature', null)]);
      expect(report.days).toEqual([day('2024-06-01', 480)]);
      expect(report.forecasts).toEqual([forecast('2024-06-01', 'arima', 1.25, 10), forecast('2024-06-01', 'autoencoder', 0.25, null)]);
      expect((await store.listMonitoring('other', '2024-06-01', '2024-06-30')).performance).toEqual([]);
    });

    it('keeps one verdict per anomaly, the latest', async () => {
      await store.recordFeedback({ pipeline: 'trips', date: '2024-06-01', anomalyId: 'T1', verdict: 'false_positive', note: 'roadworks', recordedBy: 'ops' });
      const latest = await store.recordFeedback({ pipeline: 'trips', date: '2024-06-01', anomalyId: 'T1', verdict: 'true_positive' });
      expect(latest).toMatchObject({ pipeline: 'trips', date: '2024-06-01', anomalyId: 'T1', verdict: 'true_positive', note: null, recordedBy: null });
      expect(await store.listFeedback('trips', '2024-06-01', '2024-06-01')).toEqual([latest]);
    });

    it('changes an alarm once per state: concurrent evaluations fire it once, resolving needs it firing', async () => {
      expect(await store.changeAlarm('trips', 'drift', { state: 'resolved', message: 'fine', date: '2024-06-01' })).toBeUndefined();
      const fired = await Promise.all([1, 2, 3].map(() => store.changeAlarm('trips', 'drift', { state: 'firing', message: 'score PSI 0.3 > 0.2', date: '2024-06-02' })));
      expect(fired.filter((change) => change !== undefined)).toEqual([expect.objectContaining({ pipeline: 'trips', alarm: 'drift', state: 'firing', date: '2024-06-02' })]);
      expect(await store.changeAlarm('trips', 'drift', { state: 'resolved', message: 'fine', date: '2024-06-03' })).toMatchObject({ state: 'resolved', message: 'fine' });
      expect(await store.changeAlarm('trips', 'drift', { state: 'resolved', message: 'fine', date: '2024-06-04' })).toBeUndefined();
      expect(await store.listAlarms('trips')).toEqual([expect.objectContaining({ alarm: 'drift', state: 'resolved', date: '2024-06-03' })]);
    });
  });

  describe('quality results', () => {
    it('round-trips a report in order, with samples, and replaces it for the same run', async () => {
      const results = [
        { expectation: 'delay is not null', type: 'not_null', column: 'delay', severity: 'fail' as const, passed: false, observed: 2, failingRows: 2, sample: [{ id: 'a', delay: null }] },
        { expectation: 'row count at least 1', type: 'row_count_between', column: null, severity: 'warn' as const, passed: true, observed: 40, failingRows: null, sample: [] },
      ];
      await store.recordQualityResults('run-q', 'flights', [{ logicalDate: '2024-07-01', results }]);
      expect(await store.listQualityResults('run-q')).toEqual(results);
      await store.recordQualityResults('run-q', 'flights', [{ logicalDate: '2024-07-01', results: results.slice(1) }]);
      expect(await store.listQualityResults('run-q')).toEqual(results.slice(1));
      expect(await store.listQualityResults('run-none')).toEqual([]);
    });

    it("lists a dataset's results over dates, by date, run and report order", async () => {
      const result = (expectation: string) => ({ expectation, type: 'not_null', column: 'x', severity: 'warn' as const, passed: true, observed: 0, failingRows: 0, sample: [] });
      await store.recordQualityResults('run-b', 'trips', [{ logicalDate: '2024-08-02', results: [result('b2')] }]);
      await store.recordQualityResults('run-a', 'trips', [{ logicalDate: '2024-08-02', results: [result('a2-first'), result('a2-second')] }]);
      await store.recordQualityResults('run-a', 'trips', [{ logicalDate: '2024-08-01', results: [result('a1')] }]);
      await store.recordQualityResults('run-c', 'other', [{ logicalDate: '2024-08-01', results: [result('other')] }]);
      const listed = await store.listDatasetQuality('trips', '2024-08-01', '2024-08-02');
      expect(listed.map((row) => `${row.date} ${row.runId} ${row.expectation}`)).toEqual(['2024-08-01 run-a a1', '2024-08-02 run-a a2-first', '2024-08-02 run-a a2-second', '2024-08-02 run-b b2']);
      expect(listed[0]).toEqual({ ...result('a1'), runId: 'run-a', date: '2024-08-01' });
      expect(await store.listDatasetQuality('trips', '2024-08-02', '2024-08-01')).toEqual([]);
      await store.ping();
    });
  });

  describe('leases', () => {
    /** A lease its holder stops renewing at once, as a killed coordinator's. */
    const short = (owner: string): Lease => ({ owner, seconds: 0.3 });
    const expiry = () => sleep(600);

    it('records the coordinator holding a run and renews its lease for it alone, until the run finishes', async () => {
      const run = await store.startRun({ lease: { owner: 'host-a:1', seconds: 60 }, pipeline: 'p-lease', logicalDate: '2024-01-01', params: {} });
      expect(run).toMatchObject({ status: 'running', leaseOwner: 'host-a:1' });
      expect(run.leaseExpiresAt!.getTime() - run.heartbeatAt!.getTime()).toBeCloseTo(60_000, -2);

      await sleep(20);
      expect(await store.renewRunLease(run.id, { owner: 'host-a:1', seconds: 120 })).toBe(true);
      const renewed = await store.getRun(run.id);
      expect(renewed.heartbeatAt!.getTime()).toBeGreaterThan(run.heartbeatAt!.getTime());
      expect(renewed.leaseExpiresAt!.getTime() - renewed.heartbeatAt!.getTime()).toBeCloseTo(120_000, -2);
      expect(await store.renewRunLease(run.id, { owner: 'host-b:2', seconds: 120 })).toBe(false);
      await expect(store.renewRunLease(run.id, { owner: '', seconds: 1 })).rejects.toBeInstanceOf(InputError);
      await expect(store.renewRunLease(run.id, { owner: 'host-a:1', seconds: 0 })).rejects.toBeInstanceOf(InputError);

      await expect(store.finishRun(run.id, { status: 'succeeded', owner: 'host-b:2' })).rejects.toBeInstanceOf(LeaseLostError);
      const finished = await store.finishRun(run.id, { status: 'succeeded', owner: 'host-a:1' });
      expect(finished).toMatchObject({ status: 'succeeded', leaseOwner: 'host-a:1', leaseExpiresAt: null });
      expect(await store.renewRunLease(run.id, { owner: 'host-a:1', seconds: 60 })).toBe(false);
    });

    it('renews a running step’s lease for its worker alone, and ends it with the step', async () => {
      const run = await store.startRun({ lease, pipeline: 'p-step-lease', logicalDate: '2024-01-02', params: {} });
      await store.planSteps(run.id, [{ step: 'clean', partition: '2024-01-02', position: 0 }]);
      const running = await store.updateStep(run.id, 'clean', '2024-01-02', { status: 'running', attempts: 1, lease: { owner: 'host-w:7', seconds: 30 } });
      expect(running).toMatchObject({ worker: 'host-w:7' });
      expect(running.leaseExpiresAt!.getTime() - running.heartbeatAt!.getTime()).toBeCloseTo(30_000, -2);

      expect(await store.renewStepLease(run.id, 'clean', '2024-01-02', { owner: 'host-w:7', seconds: 30 })).toBe(true);
      expect(await store.renewStepLease(run.id, 'clean', '2024-01-02', { owner: 'host-x:8', seconds: 30 })).toBe(false);
      const done = await store.updateStep(run.id, 'clean', '2024-01-02', { status: 'succeeded', output: {} });
      expect(done).toMatchObject({ worker: 'host-w:7', leaseExpiresAt: null });
      expect(await store.renewStepLease(run.id, 'clean', '2024-01-02', { owner: 'host-w:7', seconds: 30 })).toBe(false);
    });

    it('fails a run whose coordinator stopped heartbeating, with who, when and how to resume it, and the steps whose worker stopped too', async () => {
      const run = await store.startRun({ lease: short('host-dead:13'), pipeline: 'p-expire', logicalDate: '2024-01-03', params: {} });
      await store.planSteps(run.id, [
        { step: 'clean', partition: 'a', position: 0 },
        { step: 'clean', partition: 'b', position: 0 },
        { step: 'clean', partition: 'c', position: 0 },
      ]);
      await store.updateStep(run.id, 'clean', 'a', { status: 'running', attempts: 1, lease: short('host-dead:13') });
      await store.updateStep(run.id, 'clean', 'b', { status: 'running', attempts: 1, lease: { owner: 'host-live:14', seconds: 60 } });
      await expiry();

      const [listed] = await store.listRuns({ pipeline: 'p-expire' });
      expect(listed).toMatchObject({ id: run.id, status: 'failed', leaseOwner: 'host-dead:13', leaseExpiresAt: null });
      expect(listed.error).toMatch(new RegExp(`^coordinator host-dead:13 stopped heartbeating at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ; resume it with \`detour runs resume ${run.id}\`$`));
      expect(listed.finishedAt).toBeInstanceOf(Date);
      const steps = await store.listSteps(run.id);
      expect(steps.map((step) => step.status)).toEqual(['failed', 'running', 'pending']);
      expect(steps[0].error).toMatch(/^worker host-dead:13 stopped heartbeating at \d{4}-\d\d-\d\dT/);
      expect(steps[0].seconds).toBeGreaterThan(0);

      // The coordinator, back from a long pause, finds the run no longer its own.
      expect(await store.renewRunLease(run.id, short('host-dead:13'))).toBe(false);
      await expect(store.finishRun(run.id, { status: 'succeeded', owner: 'host-dead:13' })).rejects.toThrow(/no longer host-dead:13's: it failed: coordinator host-dead:13 stopped heartbeating/);

      const resumed = await store.reopenRun(run.id, { owner: 'host-new:15', seconds: 60 });
      expect(resumed).toMatchObject({ status: 'running', error: null, leaseOwner: 'host-new:15' });
      await expect(store.finishRun(run.id, { status: 'failed', owner: 'host-dead:13' })).rejects.toThrow(/host-new:15 resumed it/);
    });

    it.each([
      ['starting a run', (s: Store) => s.startRun({ lease, pipeline: 'p-other', logicalDate: '2024-01-05', params: {} })],
      ['listing runs', (s: Store) => s.listRuns({ limit: 1 })],
      ['looking up a run', (s: Store) => s.getRun('2')],
      ['resuming a run', (s: Store) => s.reopenRun('no-such-run', lease)],
      ['looking for done dates (backfill)', (s: Store) => s.succeededDates('p-other', '2024-01-01', '2024-01-31')],
      ['a scheduler ticks', (s: Store) => s.lastScheduledTick('p-other')],
    ])('fails expired runs when %s', async (_case, touch) => {
      const run = await store.startRun({ lease: short('host-gone:16'), pipeline: 'p-touch', logicalDate: '2024-01-04', params: {} });
      await expiry();
      await touch(store).catch(() => undefined);
      const touched = Date.now();

      const failed = await store.getRun(run.id);
      expect(failed.status).toBe('failed');
      expect(failed.finishedAt!.getTime()).toBeLessThanOrEqual(touched);
    });
  });

  describe('step graphs, range runs and schedule claims', () => {
    it('records a range run and reports the dates covered by succeeded runs', async () => {
      const range = await store.startRun({ lease, pipeline: 'p-range', logicalDate: '2024-09-01', endDate: '2024-09-03', params: {} });
      expect(range).toMatchObject({ logicalDate: '2024-09-01', endDate: '2024-09-03' });
      const single = await store.startRun({ lease, pipeline: 'p-range', logicalDate: '2024-09-05', params: {} });
      expect(single.endDate).toBe('2024-09-05');
      expect(await store.succeededDates('p-range', '2024-09-01', '2024-09-30')).toEqual([]);
      await store.finishRun(range.id, { status: 'succeeded' });
      await store.finishRun(single.id, { status: 'failed', error: 'boom' });
      expect(await store.succeededDates('p-range', '2024-09-02', '2024-09-30')).toEqual(['2024-09-02', '2024-09-03']);
      await expect(store.startRun({ lease, pipeline: 'p-range', logicalDate: '2024-09-05', endDate: '2024-09-04', params: {} })).rejects.toThrow(/cannot end/);
    });

    it('plans steps as pending, tracks attempts, timings and outputs, and reopens a failed run', async () => {
      const run = await store.startRun({ lease, pipeline: 'p-steps', logicalDate: '2024-10-01', params: {} });
      const plan = [
        { step: 'clean', partition: '2024-10-01', position: 0 },
        { step: 'detect', partition: 'arima/0', position: 1 },
        { step: 'detect', partition: 'arima/1', position: 1 },
        { step: 'publish', partition: 'all', position: 2 },
      ];
      await store.planSteps(run.id, plan);
      await store.planSteps(run.id, plan);
      expect((await store.listSteps(run.id)).map((step) => [step.step, step.partition, step.status, step.attempts])).toEqual([
        ['clean', '2024-10-01', 'pending', 0],
        ['detect', 'arima/0', 'pending', 0],
        ['detect', 'arima/1', 'pending', 0],
        ['publish', 'all', 'pending', 0],
      ]);
      const running = await store.updateStep(run.id, 'clean', '2024-10-01', { status: 'running', attempts: 1, lease: { owner: 'host-a:42', seconds: 600 } });
      expect(running.startedAt).toBeInstanceOf(Date);
      expect(running.finishedAt).toBeNull();
      await sleep(20);
      const done = await store.updateStep(run.id, 'clean', '2024-10-01', { status: 'succeeded', output: { silver: ['silver/x/date=2024-10-01/data.parquet'], rows: 10 } });
      expect(done).toMatchObject({ status: 'succeeded', attempts: 1, output: { rows: 10 }, error: null, worker: 'host-a:42' });
      expect(done.seconds).toBeGreaterThan(0);
      await store.updateStep(run.id, 'detect', 'arima/0', { status: 'running', attempts: 3, lease });
      await store.updateStep(run.id, 'detect', 'arima/0', { status: 'failed', error: 'connection reset' });
      await store.updateStep(run.id, 'publish', 'all', { status: 'skipped' });
      const steps = await store.listSteps(run.id);
      expect(steps.map((step) => step.status)).toEqual(['succeeded', 'failed', 'pending', 'skipped']);
      expect(steps[1]).toMatchObject({ attempts: 3, error: 'connection reset' });
      // planning again (resume) keeps what was recorded
      await store.planSteps(run.id, plan);
      expect((await store.listSteps(run.id))[0].output).toEqual({ silver: ['silver/x/date=2024-10-01/data.parquet'], rows: 10 });
      await expect(store.updateStep(run.id, 'nope', 'all', { status: 'running', lease })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.updateStep(run.id, 'publish', 'all', { status: 'running' })).rejects.toThrow(/needs its worker's lease/);

      await expect(store.reopenRun(run.id, lease)).rejects.toThrow(/only a failed run can be resumed/);
      await store.finishRun(run.id, { status: 'failed', error: 'detect failed' });
      expect(await store.reopenRun(run.id, lease)).toMatchObject({ status: 'running', error: null, finishedAt: null });
      await expect(store.reopenRun('no-such-run', lease)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lets exactly one of several concurrent claimers start a scheduled (pipeline, date)', async () => {
      const tick = new Date('2024-11-02T01:00:00Z');
      const claims = await Promise.all(Array.from({ length: 5 }, () => store.claimScheduledRun('p-sched', '2024-11-01', tick)));
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await store.claimScheduledRun('p-sched', '2024-11-01', tick)).toBe(false);
      expect(await store.claimScheduledRun('p-sched-other', '2024-11-01', tick)).toBe(true);
      expect(await store.lastScheduledTick('p-sched')).toEqual(tick);
      expect(await store.lastScheduledTick('p-never')).toBeNull();
    });

    it('stores error texts as one printable line: NUL and control bytes escaped, length capped', async () => {
      // What a UTF-16 file read as UTF-8 looks like in an error message.
      const raw = `cannot parse r\u0000i\u0000d\u0000e\u0000 line 2:\n\tbad\u0007 value ${'x'.repeat(1_000)}`;
      const run = await store.startRun({ lease, pipeline: 'p-nul', logicalDate: '2024-10-02', params: {} });
      await store.planSteps(run.id, [{ step: 'clean', partition: '2024-10-02', position: 0 }]);
      await store.updateStep(run.id, 'clean', '2024-10-02', { status: 'running', attempts: 1, lease });
      const step = await store.updateStep(run.id, 'clean', '2024-10-02', { status: 'failed', error: raw });
      const failed = await store.finishRun(run.id, { status: 'failed', error: raw });

      for (const error of [step.error, failed.error, (await store.getRun(run.id)).error, (await store.listSteps(run.id))[0].error]) {
        expect(error).toMatch(/^cannot parse r\\x00i\\x00d\\x00e\\x00 line 2: bad\\x07 value x+…$/);
        expect(error).toHaveLength(ERROR_LINE_MAX);
      }
      expect((await store.listSteps(run.id))[0].status).toBe('failed');
    });

    it('keeps quality reports of several dates of one run apart, stored together or one by one', async () => {
      const result = (observed: number) => ({ expectation: 'rows', type: 'row_count_between', column: null, severity: 'fail' as const, passed: true, observed, failingRows: null, sample: [] });
      await store.recordQualityResults('run-qd', 'd', [{ logicalDate: '2024-12-01', results: [result(1)] }]);
      await store.recordQualityResults('run-qd', 'd', [{ logicalDate: '2024-12-02', results: [result(2)] }]);
      expect((await store.listQualityResults('run-qd')).map((row) => row.observed)).toEqual([1, 2]);
      expect((await store.listQualityResults('run-qd', '2024-12-02')).map((row) => row.observed)).toEqual([2]);
      await store.recordQualityResults('run-qd', 'd', [
        { logicalDate: '2024-12-02', results: [result(20), result(21)] },
        { logicalDate: '2024-12-03', results: [result(3)] },
        { logicalDate: '2024-12-04', results: [] },
      ]);
      expect((await store.listQualityResults('run-qd')).map((row) => row.observed)).toEqual([1, 20, 21, 3]);
      await expect(store.recordQualityResults('run-qd', 'd', [{ logicalDate: '2024-12-5', results: [] }])).rejects.toBeInstanceOf(InputError);
    });
  });

  describe('model registry', () => {
    const trained = (name: string, trainingRunId: string, entity = name.split('/')[1] ?? name): NewModelVersion => ({
      name,
      detector: 'iforest',
      entity,
      params: { trees: 100, contamination: 0.01 },
      window: { from: '2024-01-01', to: '2024-03-31' },
      inputs: [{ key: 'gold/lateness/date=2024-01-01/data.parquet', sha256: 'ab'.repeat(32) }],
      detourVersion: '0.1.0',
      trainingRunId,
    });
    const artifact = (name: string, version: number) => ({ key: `models/${name}/v${version}/model.json`, sha256: 'cd'.repeat(32), bytes: 1234 });
    /** Reserves and registers a version of `name` for `run`, as a training shard does. */
    const register = async (name: string, run: string, loss: number, promote?: { ifProduction: number | null; reason: string }) => {
      const { version } = await store.reserveModelVersion(trained(name, run));
      return store.registerModelVersion(name, version, { artifact: artifact(name, version), metrics: { validation_loss: loss, rows: 90 }, note: 'trained', promote });
    };

    it('keeps a model of all rows (a supervised model) without an entity', async () => {
      const { version } = await store.reserveModelVersion({ ...trained('fleet_service', 'run-s'), detector: 'logistic', entity: null });
      await store.registerModelVersion('fleet_service', version, { artifact: artifact('fleet_service', version), metrics: { validation_loss: 0.46 }, note: 'trained' });
      expect(await store.getModelVersion('fleet_service', version)).toMatchObject({ name: 'fleet_service', detector: 'logistic', entity: null });
    });

    it('reserves versions 1, 2, ... per name, once per training run, invisible until registered', async () => {
      const first = await store.reserveModelVersion(trained('reg-a/B1', 'run-1'));
      expect(first).toMatchObject({ name: 'reg-a/B1', version: 1, stage: 'candidate', registeredAt: null, artifact: null, metrics: null, entity: 'B1' });
      expect(await store.reserveModelVersion(trained('reg-a/B1', 'run-1'))).toMatchObject({ version: 1 });
      expect(await store.reserveModelVersion(trained('reg-a/B1', 'run-2'))).toMatchObject({ version: 2 });
      expect(await store.reserveModelVersion(trained('reg-a/B2', 'run-2'))).toMatchObject({ version: 1 });
      expect(await store.listModels({ name: 'reg-a' })).toEqual([]);
      await expect(store.getModelVersion('reg-a/B1', 1)).rejects.toBeInstanceOf(NotFoundError);

      const registered = await store.registerModelVersion('reg-a/B1', 1, { artifact: artifact('reg-a/B1', 1), metrics: { validation_loss: 0.41, rows: 90 }, note: 'registered as a candidate' });
      expect(registered).toMatchObject({
        version: 1,
        stage: 'candidate',
        metrics: { validation_loss: 0.41, rows: 90 },
        artifact: artifact('reg-a/B1', 1),
        params: { trees: 100, contamination: 0.01 },
        window: { from: '2024-01-01', to: '2024-03-31' },
        inputs: [{ key: 'gold/lateness/date=2024-01-01/data.parquet', sha256: 'ab'.repeat(32) }],
        detourVersion: '0.1.0',
        trainingRunId: 'run-1',
        promotedAt: null,
        previousProduction: null,
      });
      expect(registered.registeredAt).toBeInstanceOf(Date);
      // Registering again (a retried shard) changes nothing.
      const again = await store.registerModelVersion('reg-a/B1', 1, { artifact: { ...artifact('reg-a/B1', 1), sha256: 'ee'.repeat(32) }, metrics: { validation_loss: 9 }, note: 'again' });
      expect(again).toEqual(registered);
      expect(await store.getModelVersion('reg-a/B1', 1)).toEqual(registered);
      expect((await store.listModels({ name: 'reg-a' })).map((model) => `${model.name}@${model.version}`)).toEqual(['reg-a/B1@1']);
      expect((await store.listModelStages('reg-a/B1')).map((change) => [change.version, change.stage, change.reason])).toEqual([[1, 'candidate', 'registered as a candidate']]);
      await expect(store.registerModelVersion('reg-a/B1', 7, { artifact: artifact('reg-a/B1', 7), metrics: {}, note: '' })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.getModelVersion('reg-a/B1', 0)).rejects.toBeInstanceOf(InputError);
    });

    it('allocates distinct versions to concurrent training runs, and one to concurrent attempts of the same run', async () => {
      const versions = await Promise.all(Array.from({ length: 8 }, (_, run) => store.reserveModelVersion(trained('reg-c/X', `run-c${run}`))));
      expect(versions.map((model) => model.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const attempts = await Promise.all(Array.from({ length: 6 }, () => store.reserveModelVersion(trained('reg-c/Y', 'run-same'))));
      expect(new Set(attempts.map((model) => model.version))).toEqual(new Set([1]));
    });

    it('promotes in registration only while production is what the trainer saw', async () => {
      const v1 = await register('reg-p/B1', 'run-p1', 0.4, { ifProduction: null, reason: 'auto: no production version yet' });
      expect(v1).toMatchObject({ version: 1, stage: 'production', previousProduction: null });
      expect(v1.promotedAt).toBeInstanceOf(Date);
      // The trainer of v2 saw no production: v1 appeared meanwhile, so nothing is recorded.
      const { version } = await store.reserveModelVersion(trained('reg-p/B1', 'run-p2'));
      const stale = { artifact: artifact('reg-p/B1', version), metrics: { validation_loss: 0.3 }, note: 'trained', promote: { ifProduction: null, reason: 'auto' } };
      await expect(store.registerModelVersion('reg-p/B1', version, stale)).rejects.toBeInstanceOf(TransientError);
      expect((await store.listModels({ name: 'reg-p/B1' })).map((model) => model.version)).toEqual([1]);
      const v2 = await store.registerModelVersion('reg-p/B1', version, { ...stale, promote: { ifProduction: 1, reason: 'auto: validation_loss 0.3 not worse than v1' } });
      expect(v2).toMatchObject({ version: 2, stage: 'production', previousProduction: 1 });
      expect(await store.getModelVersion('reg-p/B1', 1)).toMatchObject({ stage: 'archived' });
      expect((await store.listModelStages('reg-p/B1')).map((change) => `v${change.version} ${change.stage}: ${change.reason}`)).toEqual([
        'v1 candidate: trained',
        'v1 production: auto: no production version yet',
        'v2 candidate: trained',
        'v1 archived: replaced by v2',
        'v2 production: auto: validation_loss 0.3 not worse than v1',
      ]);
    });

    it('keeps one production version per name and rolls back along the production history', async () => {
      for (const run of ['r1', 'r2', 'r3']) await register('reg-r/B1', `run-${run}`, 0.5);
      await register('reg-r/B2', 'run-r1', 0.5);
      await store.promoteModel('reg-r/B1', 1, { reason: 'manual' });
      await store.promoteModel('reg-r/B2', 1, { reason: 'manual' });
      await store.promoteModel('reg-r/B1', 2, { reason: 'manual' });
      expect(await store.promoteModel('reg-r/B1', 3, { reason: 'manual' })).toMatchObject({ stage: 'production', previousProduction: 2 });
      // Promoting the production version again changes nothing.
      await store.promoteModel('reg-r/B1', 3, { reason: 'manual again' });
      expect((await store.listModels({ name: 'reg-r', stage: 'production' })).map((model) => `${model.name}@${model.version}`)).toEqual(['reg-r/B1@3', 'reg-r/B2@1']);

      const back = await store.promoteModel('reg-r/B1', 2, { reason: 'rollback from v3', restore: true });
      expect(back).toMatchObject({ stage: 'production', previousProduction: 1 });
      expect(await store.getModelVersion('reg-r/B1', 3)).toMatchObject({ stage: 'archived' });
      expect(await store.promoteModel('reg-r/B1', 1, { reason: 'rollback from v2', restore: true })).toMatchObject({ stage: 'production', previousProduction: null });
      const history = await store.listModelStages('reg-r/B1');
      expect(history.filter((change) => change.stage !== 'candidate').map((change) => `v${change.version} ${change.stage}: ${change.reason}`)).toEqual([
        'v1 production: manual',
        'v1 archived: replaced by v2',
        'v2 production: manual',
        'v2 archived: replaced by v3',
        'v3 production: manual',
        'v3 archived: rolled back to v2',
        'v2 production: rollback from v3',
        'v2 archived: rolled back to v1',
        'v1 production: rollback from v2',
      ]);
      expect(history.every((change) => change.changedAt instanceof Date)).toBe(true);
      await expect(store.promoteModel('reg-r/B1', 9, { reason: 'manual' })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists a model’s versions by name, stage and training run', async () => {
      await register('reg-l/B1', 'run-l1', 0.2);
      await register('reg-l/B10', 'run-l1', 0.2);
      await register('reg-l/B1', 'run-l2', 0.2);
      await register('reg-lx/B1', 'run-l1', 0.2);
      const names = (models: { name: string; version: number }[]) => models.map((model) => `${model.name}@${model.version}`);
      expect(names(await store.listModels({ name: 'reg-l' }))).toEqual(['reg-l/B1@1', 'reg-l/B1@2', 'reg-l/B10@1']);
      expect(names(await store.listModels({ name: 'reg-l/B1' }))).toEqual(['reg-l/B1@1', 'reg-l/B1@2']);
      expect(names(await store.listModels({ trainingRunId: 'run-l1', name: 'reg-l' }))).toEqual(['reg-l/B1@1', 'reg-l/B10@1']);
      expect(await store.listModels({ name: 'reg-l', stage: 'production' })).toEqual([]);
    });

    it('does not count training runs among the dates a pipeline has done', async () => {
      const training = await store.startRun({ lease, pipeline: 'p-trained', logicalDate: '2024-05-01', params: { training: { steps: [0] } } });
      await store.finishRun(training.id, { status: 'succeeded' });
      expect(await store.succeededDates('p-trained', '2024-05-01', '2024-05-01')).toEqual([]);
    });
  });
});

describe('Store on pglite: one folder, one process', () => {
  let stateDir: string;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'detour-store-'));
  });

  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  it('keeps data when the folder is reopened, and creates missing parent folders', async () => {
    const nested = join(stateDir, 'deep', 'state');
    const first = await openStore({ stateDir: nested });
    const run = await first.startRun({ lease, pipeline: 'p-reopen', logicalDate: '2024-07-01', params: { k: 1 } });
    await first.replaceAnomalies('ride_anomalies', run.id, [{ logicalDate: '2024-07-01', rows: [ride(1)] }]);
    await first.close();

    const second = await openStore({ stateDir: nested });
    try {
      expect(await second.getRun(run.id)).toEqual(run);
      expect(await second.listAnomalies('ride_anomalies', '2024-07-01')).toEqual(published([ride(1)], run.id));
    } finally {
      await second.close();
    }
  });

  it('refuses a second open of a folder in use, and allows it once closed', async () => {
    const first = await openStore({ stateDir });
    try {
      const second = openStore({ stateDir });
      await expect(second).rejects.toBeInstanceOf(TransientError);
      await expect(second).rejects.toThrow(/in use by this process/);
    } finally {
      await first.close();
    }
    const reopened = await openStore({ stateDir });
    await reopened.close();
  });

  it('refuses a folder locked by another live process and takes over a stale lock', async () => {
    const lockPath = `${join(stateDir, 'db')}.lock`;
    // The parent process (vitest) is alive and is not this process: it stands in for another opener.
    await writeFile(lockPath, JSON.stringify({ pid: process.ppid, host: hostname(), since: '2024-01-01T00:00:00Z' }));
    await expect(openStore({ stateDir })).rejects.toThrow(new RegExp(`in use by process ${process.ppid} on `));

    // A pid far above any pid_max stands for a process that has exited.
    await writeFile(lockPath, JSON.stringify({ pid: 2 ** 30, host: hostname(), since: '2024-01-01T00:00:00Z' }));
    const store = await openStore({ stateDir });
    await store.close();
  });
});

describe('Store on postgres: shared server', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('migrates once when two processes open a fresh database at the same time', async () => {
    const stores = await Promise.all([
      openStore({ databaseUrl: database.url, stateDir: '/nonexistent' }),
      openStore({ databaseUrl: database.url, stateDir: '/nonexistent' }),
    ]);
    try {
      const run = await stores[0].startRun({ lease, pipeline: 'p-shared', logicalDate: '2024-08-01', params: {} });
      expect((await stores[1].getRun(run.id)).id).toBe(run.id);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // Each migration applied exactly once.
      const { rows } = await client.query<{ version: number }>('SELECT version FROM detour_schema_version ORDER BY version');
      expect(rows).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }, { version: 8 }, { version: 9 }]);
    } finally {
      await client.end();
    }
  });

  it('keys a new anomalies table by (date, id) with one index, and gives a 0.1 table keyed by id alone that index', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const store = await openStore({ databaseUrl: database.url, stateDir: '/nonexistent' });
    try {
      await client.query('CREATE TABLE old_anomalies (id text PRIMARY KEY, logical_date date NOT NULL, detector text NOT NULL, entity text NOT NULL, value double precision, expected double precision, lower_bound double precision, upper_bound double precision, score double precision NOT NULL, reason text NOT NULL, run_id text NOT NULL, updated_at timestamptz NOT NULL)');
      for (const table of ['new_anomalies', 'old_anomalies']) {
        await store.replaceAnomalies(table, 'run-a', [{ logicalDate: '2024-06-01', rows: [ride(1)] }]);
        await store.replaceAnomalies(table, 'run-b', [{ logicalDate: '2024-06-01', rows: [ride(1, { score: 3 })] }]);
        expect(await store.listAnomalies(table, '2024-06-01')).toEqual(published([ride(1, { score: 3 })], 'run-b'));
      }
      const indexes = await client.query<{ tablename: string; indexname: string }>(`SELECT tablename, indexname FROM pg_indexes WHERE tablename IN ('new_anomalies', 'old_anomalies') ORDER BY tablename, indexname`);
      expect(indexes.rows).toEqual([
        { tablename: 'new_anomalies', indexname: 'new_anomalies_date_id_key' },
        { tablename: 'old_anomalies', indexname: 'old_anomalies_date_id_key' },
        { tablename: 'old_anomalies', indexname: 'old_anomalies_pkey' },
      ]);
    } finally {
      await store.close();
      await client.end();
    }
  });

  it('never shows the password in its description', async () => {
    const url = new URL(database.url);
    url.password = 'hunter2'; // trust auth accepts any password
    const store = await openStore({ databaseUrl: url.href, stateDir: '/nonexistent' });
    try {
      expect(store.description).not.toContain('hunter2');
      expect(store.description).toContain(`127.0.0.1:5432/${database.name}`);
    } finally {
      await store.close();
    }
  });
});

describe('openStore with a bad database URL', () => {
  it('fails on an unreachable server with one UnavailableError line (infrastructure, exit 1), without the password', async () => {
    const error: unknown = await openStore({ databaseUrl: 'postgres://detour:hunter2@127.0.0.1:1/detour', stateDir: '/nonexistent', outageWaitMs: 0 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).not.toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/^PostgreSQL at 127\.0\.0\.1:1 unreachable \(.*ECONNREFUSED.*\); check that it runs and that DATABASE_URL points at it$/);
    expect((error as Error).message).not.toContain('hunter2');
  });

  it('waits for an unreachable server as long as it is told, saying so once', async () => {
    const notices: string[] = [];
    const started = Date.now();
    const error: unknown = await openStore({ databaseUrl: 'postgres://detour@127.0.0.1:1/detour', stateDir: '/nonexistent', outageWaitMs: 1_500, onOutage: (notice) => notices.push(notice) }).catch(
      (caught: unknown) => caught,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/^PostgreSQL at 127\.0\.0\.1:1 unreachable for [12] s \(/);
    expect(notices).toEqual([expect.stringMatching(/^waiting for PostgreSQL at 127\.0\.0\.1:1 \(.*ECONNREFUSED/)]);
  });

  it.each([
    ['an unknown database', 'postgresql://postgres:hunter2@127.0.0.1:5432/detour_no_such_db', /^cannot connect to PostgreSQL at 127\.0\.0\.1:5432: database "detour_no_such_db" does not exist$/],
    ['another scheme', 'mysql://detour:hunter2@127.0.0.1:3306/detour', /expected postgres:\/\/ or postgresql:\/\//],
    ['no URL at all', 'hunter2 is not a url', /not a valid URL/],
  ])('fails on %s with one line, without the password', async (_case, databaseUrl, message) => {
    const error: unknown = await openStore({ databaseUrl, stateDir: '/nonexistent' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
    expect(text).not.toContain('hunter2');
  });
});
