/**
 * The HTTP API over HTTP, as its users drive it: `detour serve` as a real process (two processes
 * on one port, PostgreSQL) with tokens of each scope, over a lake with rides and sensor traffic.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { runParamsOf, startRun, startTrainingRun, trainingParamsOf } from '../../src/pipeline/index.js';
import { writeSampleRides, writeSampleTraffic } from '../../src/sample/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { call, druidDay, startServe, type ServeProcess } from './serve-process.js';

const TOKENS = { read: 'read-token-0123456789', detect: 'detect-token-0123456789', admin: 'admin-token-0123456789' };
const RIDE_DAYS = ['2024-03-04', '2024-03-05'];
/** A rides date with no input: its run fails until the input lands. */
const LATE_DAY = '2024-03-06';
const SENSORS = { sensors: 2, days: 4, from: '2024-03-01', seed: 3 };
const SENSOR_MODEL = 'sensor_if/sensor-01';

const configYaml = (druidUrl: string) => `
lake: ./lake
druid: { url: "${druidUrl}" }
datasets:
  sensor_traffic:
    columns: { sensor_id: { type: string }, ts: { type: timestamp }, bytes: { type: number, required: false } }
pipelines:
  sensors:
    dataset: sensor_traffic
    aggregate:
      - { name: sensor_daily, sql: "SELECT sensor_id, CAST(ts AS DATE) AS day, sum(bytes) AS total_bytes FROM sensor_traffic GROUP BY ALL" }
    detect:
      - { detector: iforest, table: sensor_daily, entity: sensor_id, time: day, features: [total_bytes] }
    train:
      - { model: sensor_if, detector: iforest, table: sensor_traffic, entity: sensor_id, time: ts, value: bytes, history: 4, minRows: 1000, params: { trees: 50 }, promote: auto }
`;

interface RunSummary {
  id: string;
  pipeline: string;
  from: string;
  status: string;
  anomalies: number | null;
  rerunOf: string | null;
}

describe('the HTTP API', () => {
  let cwd: string;
  let database: TestDatabase;
  let serve: ServeProcess;
  let broker: Server;
  /** What the broker was asked. */
  const brokerQueries: unknown[] = [];
  const url = (route: string) => `${serve.url}${route}`;
  const json = async <T>(response: Response | Promise<Response>, status = 200): Promise<T> => {
    const answered = await response;
    const body = (await answered.json()) as T;
    expect(answered.status, JSON.stringify(body)).toBe(status);
    return body;
  };
  const admin = (route: string, options: Parameters<typeof call>[1] = {}) => call(url(route), { token: TOKENS.admin, ...options });
  const waitForRun = async (id: string): Promise<RunSummary> => {
    for (;;) {
      const { run } = await json<{ run: RunSummary }>(admin(`/v1/runs/${id}`));
      if (run.status !== 'running') return run;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const startRunThroughApi = async (body: object): Promise<RunSummary> => waitForRun((await json<{ id: string }>(admin('/v1/runs', { json: body }), 202)).id);

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-api-'));
    database = await createTestDatabase();
    // Druid cannot run here: a local HTTP server answers queries as a Druid broker would.
    broker = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        brokerQueries.push(JSON.parse(body));
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify(druidDay('2023-09-28', 'bytes', 100).rows));
      });
    });
    await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
    await writeFile(path.join(cwd, 'detour.yaml'), configYaml(`http://127.0.0.1:${(broker.address() as AddressInfo).port}/druid/v2/`));
    const lake = new FsLake(path.join(cwd, 'lake'));
    await writeSampleRides(lake, { from: RIDE_DAYS[0], to: RIDE_DAYS[1], ridesPerDay: 2_000, seed: 1, format: 'parquet' });
    await writeSampleTraffic(lake, { ...SENSORS, dataset: 'sensor_traffic' });

    // Two versions of each sensor's model, trained through the pipeline as `detour train` does.
    const { config } = await loadConfig({ file: path.join(cwd, 'detour.yaml'), env: { DATABASE_URL: database.url } });
    const app = await openApp({ config, baseDir: cwd });
    try {
      const services = await app.services();
      const sensorDays = ['2024-03-01', '2024-03-02', '2024-03-03', '2024-03-04'];
      await startRun(services, 'sensors', runParamsOf(config, 'sensors'), sensorDays);
      for (const day of sensorDays.slice(2)) await startTrainingRun(services, 'sensors', trainingParamsOf(config, 'sensors'), day);
    } finally {
      await app.close();
    }
    serve = await startServe(cwd, ['--no-schedules', '--processes', '2'], {
      DATABASE_URL: database.url,
      DETOUR_API_TOKENS: `${TOKENS.read}:read,${TOKENS.detect}:detect,${TOKENS.admin}:admin`,
    });
  }, 180_000);

  afterAll(async () => {
    expect(await serve?.stop()).toBe(0);
    expect(serve?.output().stderr).toBe('');
    await new Promise((resolve) => broker?.close(resolve));
    await database?.drop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('answers /healthz without a token, and /readyz once the run store and the lake answer', async () => {
    expect(serve.output().stdout).toMatch(/^serving: api http:\/\/\S+ \(2 processes\) · metrics /m);
    expect(await json(call(url('/healthz')))).toEqual({ status: 'ok' });
    expect(await json(call(url('/readyz')))).toMatchObject({ status: 'ok', store: expect.stringMatching(/^postgres/), lake: expect.stringMatching(/^file:/) });
  });

  it('asks for a token (401), refuses one without the scope (403), serves one with it; admin holds every scope', async () => {
    const missing = await call(url('/v1/runs'));
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toEqual({ status: 'error', msg: 'send a token: Authorization: Bearer <token>' });
    expect(await json(call(url('/v1/runs'), { token: 'not-a-known-token-at-all' }), 401)).toEqual({ status: 'error', msg: 'the bearer token is not one this server knows' });
    const cases: [string, Parameters<typeof call>[1], keyof typeof TOKENS][] = [
      ['/v1/runs', {}, 'read'],
      ['/v1/models', {}, 'read'],
      ['/metrics', {}, 'read'],
      ['/v1/detect', { json: { detector: 'shallow', series: druidDay('2024-01-01').rows.slice(0, 60).map((row) => ({ timestamp: row.timestamp, value: row.result.bytes })) } }, 'detect'],
      ['/api/v1/outliers', { form: { data: druidDay('2024-01-01').data } }, 'detect'],
      ['/v1/runs/nope/resume', { method: 'POST' }, 'admin'],
    ];
    for (const [route, options, scope] of cases) {
      for (const [holder, token] of Object.entries(TOKENS)) {
        const allowed = holder === scope || holder === 'admin';
        const status = (await call(url(route), { ...options, token })).status;
        expect({ route, holder, allowed: status !== 403 && status !== 401 }).toEqual({ route, holder, allowed });
        if (!allowed) expect(status).toBe(403);
      }
    }
  });

  it('starts a run (202) that goes through the queue and succeeds, with its steps, timings, inputs and params', async () => {
    const accepted = await call(url('/v1/runs'), { token: TOKENS.admin, json: { pipeline: 'rides', date: RIDE_DAYS[0] } });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };
    expect(accepted.headers.get('location')).toBe(`/v1/runs/${id}`);
    expect(await waitForRun(id)).toMatchObject({ pipeline: 'rides', from: RIDE_DAYS[0], status: 'succeeded', anomalies: expect.any(Number) });
    const detail = await json<{ run: { params: { pipeline: unknown; detour_version: string } }; steps: { step: string; status: string; seconds: number }[]; inputs: Record<string, { key: string; sha256: string }[]> }>(call(url(`/v1/runs/${id.slice(0, 20)}`), { token: TOKENS.read }));
    // A detect partition per record detector of the built-in rides pipeline: DBSCAN, conditional, pattern.
    expect(detail.steps.map((step) => step.step)).toEqual(['clean', 'quality', 'aggregate', 'detect', 'detect', 'detect', 'publish']);
    expect(detail.steps.every((step) => step.status === 'succeeded' || step.status === 'skipped')).toBe(true);
    expect(detail.inputs[RIDE_DAYS[0]]).toEqual([{ key: `bronze/rides/date=${RIDE_DAYS[0]}/rides.parquet`, size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(detail.run.params).toMatchObject({ pipeline: { dataset: 'rides' }, detour_version: expect.any(String) });
    expect(await json(admin('/v1/runs', { json: { pipeline: 'nope', date: RIDE_DAYS[0] } }), 400)).toMatchObject({ msg: expect.stringMatching(/^unknown pipeline "nope"/) });
    expect(await json(admin('/v1/runs', { json: { pipeline: 'rides', from: RIDE_DAYS[1], to: RIDE_DAYS[0] } }), 400)).toEqual({ status: 'error', msg: `from ${RIDE_DAYS[1]} is after to ${RIDE_DAYS[0]}` });
    expect(await json(admin('/v1/runs/20990101', {}), 404)).toMatchObject({ status: 'error' });
  });

  it('resumes a failed run once its input landed, and reruns a succeeded one with the same inputs', async () => {
    const failed = await startRunThroughApi({ pipeline: 'rides', date: LATE_DAY });
    expect(failed.status).toBe('failed');
    await writeSampleRides(new FsLake(path.join(cwd, 'lake')), { from: LATE_DAY, to: LATE_DAY, ridesPerDay: 2_000, seed: 2, format: 'parquet' });
    const resumed = await json<{ id: string }>(admin(`/v1/runs/${failed.id}/resume`, { method: 'POST' }), 202);
    expect(resumed.id).toBe(failed.id);
    expect(await waitForRun(failed.id)).toMatchObject({ status: 'succeeded' });
    expect(await json(admin(`/v1/runs/${failed.id}/resume`, { method: 'POST' }), 400)).toEqual({ status: 'error', msg: `run ${failed.id} is succeeded; only a failed run can be resumed` });
    const rerun = await json<{ id: string; rerunOf: string }>(admin(`/v1/runs/${failed.id}/rerun`, { method: 'POST' }), 202);
    expect(rerun.rerunOf).toBe(failed.id);
    expect(await waitForRun(rerun.id)).toMatchObject({ status: 'succeeded', from: LATE_DAY, rerunOf: failed.id });
  });

  it('pages runs newest first with a cursor, every run once, and filters them by pipeline, status and dates', async () => {
    await startRunThroughApi({ pipeline: 'rides', from: RIDE_DAYS[0], to: RIDE_DAYS[1] });
    const all = await json<{ runs: RunSummary[] }>(admin('/v1/runs?limit=500'));
    const paged: RunSummary[] = [];
    let cursor: string | null = null;
    do {
      const page: { runs: RunSummary[]; nextCursor: string | null } = await json(admin(`/v1/runs?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`));
      expect(page.runs.length).toBeLessThanOrEqual(2);
      paged.push(...page.runs);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(paged.map((run) => run.id)).toEqual(all.runs.map((run) => run.id));
    expect(all.runs.length).toBeGreaterThanOrEqual(7);
    const rides = await json<{ runs: RunSummary[] }>(admin('/v1/runs?pipeline=rides&status=succeeded'));
    expect(rides.runs.length).toBeGreaterThan(0);
    expect(rides.runs.every((run) => run.pipeline === 'rides' && run.status === 'succeeded')).toBe(true);
    const late = await json<{ runs: RunSummary[] }>(admin(`/v1/runs?from=${LATE_DAY}&to=${LATE_DAY}`));
    expect(new Set(late.runs.map((run) => run.from))).toEqual(new Set([LATE_DAY]));
    expect(await json(admin('/v1/runs?cursor=garbage'), 400)).toEqual({ status: 'error', msg: 'cursor is not one this API gave out: pass nextCursor of the previous page as it is' });
    expect(await json(admin('/v1/runs?limit=0'), 400)).toMatchObject({ msg: expect.stringMatching(/^querystring\.limit: /) });
  });

  it("pages a pipeline's anomalies by date and id, every row once, and filters them by entity, score and dates", async () => {
    // The newest run over both days (a range run) published what the table holds for them.
    const { runs } = await json<{ runs: (RunSummary & { to: string })[] }>(admin(`/v1/runs?pipeline=rides&status=succeeded&from=${RIDE_DAYS[0]}&to=${RIDE_DAYS[0]}&limit=1`));
    expect(runs[0]).toMatchObject({ from: RIDE_DAYS[0], to: RIDE_DAYS[1] });
    const everything: { date: string; id: string; entity: string; score: number }[] = [];
    let cursor: string | null = null;
    do {
      const page: { anomalies: typeof everything; nextCursor: string | null } = await json(call(url(`/v1/anomalies?pipeline=rides&limit=7${cursor === null ? '' : `&cursor=${cursor}`}`), { token: TOKENS.read }));
      everything.push(...page.anomalies);
      cursor = page.nextCursor;
    } while (cursor !== null);
    const keys = everything.map((row) => `${row.date} ${row.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(everything.filter((row) => RIDE_DAYS.includes(row.date))).toHaveLength(runs[0].anomalies as number);
    expect([...keys].sort()).toEqual(keys.slice().sort());
    const [first] = everything;
    const byEntity = await json<{ anomalies: typeof everything }>(admin(`/v1/anomalies?pipeline=rides&entity=${encodeURIComponent(first.entity)}`));
    expect(byEntity.anomalies.length).toBeGreaterThan(0);
    expect(byEntity.anomalies.every((row) => row.entity === first.entity)).toBe(true);
    const scored = await json<{ anomalies: typeof everything }>(admin('/v1/anomalies?pipeline=rides&minScore=0.5&limit=10000'));
    expect(scored.anomalies).toEqual(everything.filter((row) => row.score >= 0.5));
    const oneDay = await json<{ anomalies: typeof everything }>(admin(`/v1/anomalies?pipeline=rides&from=${RIDE_DAYS[1]}&to=${RIDE_DAYS[1]}&limit=10000`));
    expect(oneDay.anomalies).toEqual(everything.filter((row) => row.date === RIDE_DAYS[1]));
    expect(await json(admin('/v1/anomalies?pipeline=nope'), 400)).toMatchObject({ msg: expect.stringMatching(/^unknown pipeline "nope"/) });
  });

  it("lists a dataset's quality results per date and run", async () => {
    const quality = await json<{ results: { date: string; type: string; passed: boolean }[] }>(admin(`/v1/quality?dataset=rides&from=${RIDE_DAYS[0]}&to=${RIDE_DAYS[1]}`));
    expect(new Set(quality.results.map((row) => row.date))).toEqual(new Set(RIDE_DAYS));
    expect(quality.results.map((row) => row.type)).toContain('row_count_between');
    expect(await json(admin('/v1/quality?dataset=rides&from=2024-01-01&to=2025-06-01'), 400)).toEqual({ status: 'error', msg: 'at most 366 days per request, 2024-01-01..2025-06-01 has more' });
  });

  it('lists models, shows one by either path form, promotes a version, and refuses names that leave the registry', async () => {
    const { models } = await json<{ models: { name: string; version: number }[] }>(call(url('/v1/models?name=sensor_if'), { token: TOKENS.read }));
    expect(models.map((model) => `${model.name}@${model.version}`)).toEqual(['sensor_if/sensor-01@1', 'sensor_if/sensor-01@2', 'sensor_if/sensor-02@1', 'sensor_if/sensor-02@2']);
    const shown = await json<{ name: string; production: number; versions: unknown[]; stages: unknown[] }>(admin(`/v1/models/${SENSOR_MODEL}`));
    expect(shown).toMatchObject({ name: SENSOR_MODEL, versions: [expect.objectContaining({ version: 1 }), expect.objectContaining({ version: 2 })] });
    expect(await json(admin(`/v1/models/${encodeURIComponent(SENSOR_MODEL)}`))).toEqual(shown);
    const other = shown.production === 1 ? 2 : 1;
    expect(await json(admin(`/v1/models/${SENSOR_MODEL}/versions/${other}/promote`, { method: 'POST' }))).toEqual({ name: SENSOR_MODEL, production: other, replaced: shown.production, unchanged: false });
    expect(await json(admin(`/v1/models/${SENSOR_MODEL}`))).toMatchObject({ production: other, stages: expect.arrayContaining([expect.objectContaining({ version: other, stage: 'production', reason: 'promoted through the API' })]) });
    expect(await json(admin(`/v1/models/${SENSOR_MODEL}/versions/9/promote`, { method: 'POST' }), 400)).toEqual({ status: 'error', msg: `model ${SENSOR_MODEL} has no version 9 (versions: 1, 2)` });
    expect(await json(admin('/v1/models/sensor_if/nobody'), 404)).toEqual({ status: 'error', msg: 'no model named sensor_if/nobody' });
    for (const route of ['/v1/models/..%2F..%2Fetc', '/v1/models/sensor_if/..', '/v1/models?name=..%2Fx']) {
      expect(await json(admin(route), 400)).toMatchObject({ msg: expect.stringMatching(/must be <model>\/<entity>/) });
    }
    expect(await json(admin(`/v1/models/${SENSOR_MODEL}/versions/${shown.production}/promote`, { method: 'POST' }))).toMatchObject({ production: shown.production });
  });

  it('detects with every detector: shallow, arima and iforest on a series, dbscan and iforest on records, a registered model', async () => {
    const { rows } = druidDay('2024-03-05', 'bytes', 600);
    const series = rows.map((row) => ({ timestamp: row.timestamp, value: row.result.bytes }));
    const detect = (body: object) => call(url('/v1/detect'), { token: TOKENS.detect, json: body });
    for (const detector of ['shallow', 'iforest']) {
      const found = await json<{ anomalies: { timestamp: string; reason: string }[]; model: null }>(detect({ detector, series }));
      expect(found.model).toBeNull();
      expect(found.anomalies.map((anomaly) => anomaly.timestamp)).toContain(series[600].timestamp);
    }
    const arima = await json<{ anomalies: { timestamp: string; expected: number; lower: number; upper: number; reason: string }[] }>(detect({ detector: 'arima', series: series.slice(480, 720), params: { maxP: 2, maxQ: 2 } }));
    const spike = arima.anomalies.find((anomaly) => anomaly.timestamp === series[600].timestamp);
    expect(spike?.reason).toMatch(/^value \d+ is [\d.]+σ above ARIMA\(\d,\d,\d\)'s prediction/);
    expect((spike?.upper as number) > (spike?.lower as number)).toBe(true);

    const records = Array.from({ length: 400 }, (_, i) => ({ id: `ride-${i}`, km: 1 + (i % 20) * 0.5, minutes: 4 + (i % 20) * 1.5 + (i % 3) * 0.2 }));
    records[17] = { id: 'ride-17', km: 2, minutes: 95 };
    const dbscan = await json<{ anomalies: { id: string; feature: string; reason: string }[] }>(detect({ detector: 'dbscan', records, params: { eps: 0.3, minSamples: 5 } }));
    expect(dbscan.anomalies.map((anomaly) => anomaly.id)).toEqual(['ride-17']);
    expect(dbscan.anomalies[0]).toMatchObject({ feature: 'minutes', reason: expect.stringMatching(/^minutes 95 is [\d.]+σ above records of similar km/) });
    const forest = await json<{ anomalies: { id: string }[] }>(detect({ detector: 'iforest', records, features: ['km', 'minutes'], params: { contamination: 0.01 } }));
    expect(forest.anomalies.map((anomaly) => anomaly.id)).toContain('ride-17');

    const modelled = await json<{ anomalies: { reason: string }[]; model: { name: string; version: number } }>(detect({ model: SENSOR_MODEL, series }));
    expect(modelled.model).toEqual({ name: SENSOR_MODEL, version: expect.any(Number) });
    expect(modelled.anomalies.every((anomaly) => anomaly.reason.includes(`by ${SENSOR_MODEL} v`))).toBe(true);

    expect(await json(detect({ detector: 'autoencoder', series }), 400)).toEqual({ status: 'error', msg: 'autoencoder scores with a trained model: give model (a registered <model>/<entity>) instead of detector' });
    expect(await json(detect({ detector: 'dbscan', series }), 400)).toEqual({ status: 'error', msg: 'dbscan judges records, not a series: send records' });
    expect(await json(detect({ detector: 'arima', records }), 400)).toEqual({ status: 'error', msg: 'arima judges a series, not records: send series' });
    expect(await json(detect({ model: 'sensor_if/nobody', series }), 404)).toMatchObject({ msg: /^model sensor_if\/nobody has no production version/ });
    expect(await json(detect({ detector: 'shallow', series, params: { trees: 0 } }), 400)).toMatchObject({ msg: expect.stringMatching(/^shallow params\.trees: /) });
  });

  it('speaks rb-aioutliers: a base64 form in, the same keys and timestamps out; a model name picks its production version, an unknown one the shallow model', async () => {
    const day = druidDay('2024-03-05', 'bytes', 600);
    const outliers = (form: Record<string, string>) => call(url('/api/v1/outliers'), { token: TOKENS.detect, form });
    type Answer = { status: string; anomalies: { timestamp: string; expected: number }[]; predicted: { timestamp: string; forecast: number }[] };
    const shallow = await json<Answer>(outliers({ data: day.data }));
    expect(Object.keys(shallow)).toEqual(['status', 'anomalies', 'predicted']);
    expect(shallow.status).toBe('success');
    expect(shallow.predicted.map((point) => point.timestamp)).toEqual(day.rows.map((row) => row.timestamp));
    expect(shallow.predicted.every((point) => Object.keys(point).join() === 'timestamp,forecast' && Number.isFinite(point.forecast))).toBe(true);
    expect(shallow.anomalies.map((anomaly) => anomaly.timestamp)).toContain(day.rows[600].timestamp);
    expect(shallow.anomalies.every((anomaly) => Object.keys(anomaly).join() === 'timestamp,expected')).toBe(true);

    const base64 = (text: string) => Buffer.from(text).toString('base64');
    expect(await json(outliers({ data: day.data, model: base64('sensor_if/nobody') }))).toEqual(shallow);
    const modelled = await json<Answer>(outliers({ data: day.data, model: base64(SENSOR_MODEL) }));
    expect(modelled).not.toEqual(shallow);
    // The Isolation Forest adapter expects each point to be the sensor's usual median: one value throughout.
    expect(new Set(modelled.predicted.map((point) => point.forecast)).size).toBe(1);
    expect(await json(outliers({ data: day.data, model: base64('../../etc/passwd') }), 400)).toMatchObject({ msg: expect.stringMatching(/^model "..\/..\/etc\/passwd": must be/) });
    // The same data in the URL-safe alphabet, unpadded, or wrapped in lines; not base64 at all.
    const urlSafe = Buffer.from(day.data, 'base64').toString('base64url');
    expect(await json(outliers({ data: urlSafe }))).toEqual(shallow);
    expect(await json(outliers({ data: day.data.replace(/=+$/, '').replace(/(.{76})/g, '$1\n') }))).toEqual(shallow);
    for (const data of [`${day.data.slice(0, 40)}%${day.data.slice(40)}`, `${day.data}=`, `${day.data.slice(0, 40)}==${day.data.slice(40)}`]) {
      expect(await json(outliers({ data }), 400)).toEqual({ status: 'error', msg: 'data is not base64' });
    }
  });

  it('runs a query on the Druid broker at druid.url and scores its answer', async () => {
    const query = { queryType: 'timeseries', dataSource: 'rb_flow', granularity: 'minute', intervals: ['2023-09-28T00:00:00Z/2023-09-29T00:00:00Z'] };
    const answer = await json<{ anomalies: { timestamp: string }[]; predicted: unknown[] }>(call(url('/api/v1/outliers'), { token: TOKENS.detect, form: { query: Buffer.from(JSON.stringify(query)).toString('base64') } }));
    expect(brokerQueries.at(-1)).toEqual(query);
    expect(answer.predicted).toHaveLength(1440);
    expect(answer.anomalies.map((anomaly) => anomaly.timestamp)).toContain('2023-09-28T01:40:00.000Z');
  });

  it('serves an OpenAPI 3.1 document of every route, and the reference page from its own assets', async () => {
    const document = await json<{ openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> } }>> }>(call(url('/openapi.json')));
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths).flatMap(([route, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`));
    expect(operations).toEqual(expect.arrayContaining([
      'POST /api/v1/outliers', 'POST /v1/detect', 'GET /v1/runs', 'POST /v1/runs', 'GET /v1/runs/{id}', 'POST /v1/runs/{id}/resume', 'POST /v1/runs/{id}/rerun',
      'GET /v1/anomalies', 'GET /v1/quality', 'GET /v1/models', 'GET /v1/models/{model}', 'GET /v1/models/{model}/{entity}',
      'POST /v1/models/{model}/{entity}/versions/{version}/promote', 'POST /v1/feedback', 'GET /healthz', 'GET /readyz', 'GET /metrics',
    ]));
    for (const methods of Object.values(document.paths)) for (const operation of Object.values(methods)) expect(Object.keys(operation.responses).length).toBeGreaterThan(0);
    expect(Object.keys(document.paths['/api/v1/outliers'].post.requestBody?.content ?? {})).toEqual(['application/x-www-form-urlencoded']);
    const page = await (await call(url('/docs/'))).text();
    const assets = [...page.matchAll(/(?:href|src)="([^"]+)"/g)].map((match) => match[1]);
    expect(assets.length).toBeGreaterThan(0);
    expect(assets.filter((asset) => /^(https?:)?\/\//.test(asset))).toEqual([]);
    for (const asset of assets) {
      const served = await call(new URL(asset, url('/docs/')).href);
      expect(served.status).toBe(200);
      expect((await served.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  });

  it('serves the metrics of both processes on the API port', async () => {
    const text = await (await call(url('/metrics'), { token: TOKENS.read })).text();
    expect(text).toMatch(/^detour_process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^detour_queue_depth\{state="waiting"\} 0$/m);
  });
});
