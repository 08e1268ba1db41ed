import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app/index.js';
import { DetourConfigSchema } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { apiTokens, startApiServer, type ApiServer } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';
import { fillWatchedPipeline, WATCHED, watchedPipelineConfig } from '../helpers/monitored.js';

const READ = 'read-token-00000000001';

interface Monitoring {
  pipeline: string;
  from: string;
  to: string;
  thresholds: { psi: number; ks: number | null; features: string[] | null; minAuc: number | null; maxLogLoss: number | null; minRows: number };
  performance: { date: string; model: { name: string; version: number }; predictions: number; matched: number; auc: number | null; logLoss: number | null; brier: number | null; calibration: unknown[] }[];
  drift: { date: string; feature: string; psi: number | null; ks: number | null }[];
  days: { date: string; actuals: number }[];
  alarms: { alarm: string; state: string; message: string; date: string | null; changedAt: string }[];
}

describe('GET /v1/monitoring: a watched pipeline over a window', () => {
  let root: string;
  let app: App;
  let server: ApiServer;
  const get = (query: string, token = READ) => fetch(`${server.url}/v1/monitoring?${query}`, { headers: { authorization: `Bearer ${token}` } });
  const window = `from=${WATCHED.predicted[0]}&to=${WATCHED.predicted.at(-1)}`;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-monitoring-'));
    const config = DetourConfigSchema.parse({ pipelines: { [WATCHED.pipeline]: watchedPipelineConfig() } });
    const store = await openStore({ stateDir: path.join(root, 'state') });
    app = await openApp({ config, lake: new FsLake(path.join(root, 'lake')), store });
    const services = await app.services({ concurrency: 2 });
    await fillWatchedPipeline(app.lake, services, config);
    server = await startApiServer(app, { port: 0, host: '127.0.0.1', tokens: apiTokens([], `${READ}:read`), runServices: () => app.services() });
  }, 300_000);
  afterAll(async () => {
    await server?.close();
    await app?.close();
    await app?.store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers each day\'s performance of the model version against the ground truth, as `detour monitor` reports it', async () => {
    const response = await get(`pipeline=${WATCHED.pipeline}&${window}`);
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Monitoring;
    expect(answer).toMatchObject({ pipeline: WATCHED.pipeline, from: WATCHED.predicted[0], to: WATCHED.predicted.at(-1) });
    expect(answer.performance.map((row) => row.date)).toEqual(WATCHED.predicted);
    for (const row of answer.performance) {
      expect(row).toMatchObject({ model: { name: WATCHED.model, version: 1 }, predictions: 150, matched: 150 });
      expect(row.auc).toBeGreaterThan(0.5);
      expect(row.logLoss).toBeGreaterThan(0);
      expect(row.calibration.length).toBeGreaterThan(0);
    }
    expect(answer.performance).toEqual((await app.store.listMonitoring(WATCHED.pipeline, answer.from, answer.to)).performance);
    expect(answer.days.map((day) => day.actuals)).toEqual(WATCHED.predicted.map(() => 150));
  });

  it('answers the drift of every feature and the score per day, with the configured thresholds', async () => {
    const answer = (await (await get(`pipeline=${WATCHED.pipeline}&${window}`)).json()) as Monitoring;
    expect(answer.thresholds).toEqual({ psi: WATCHED.psi, ks: null, features: null, minAuc: WATCHED.minAuc, maxLogLoss: null, minRows: 100 });
    expect(new Set(answer.drift.map((row) => row.feature))).toEqual(new Set(['temperature', 'precipitation', 'mileage', 'score']));
    expect(new Set(answer.drift.map((row) => row.date))).toEqual(new Set(WATCHED.predicted));
  });

  it('answers the alarms firing and those resolved, with when they changed', async () => {
    const { alarms } = (await (await get(`pipeline=${WATCHED.pipeline}&${window}`)).json()) as Monitoring;
    const byName = new Map(alarms.map((alarm) => [alarm.alarm, alarm]));
    expect(byName.get('performance')).toMatchObject({ state: 'firing', message: expect.stringMatching(/AUC/) });
    expect(byName.get('run_failed')).toMatchObject({ state: 'resolved' });
    for (const alarm of alarms) expect(Date.parse(alarm.changedAt)).not.toBeNaN();
  });

  it.each([
    ['a pipeline that is not monitored', 'pipeline=weather', 'pipeline "weather" is not monitored'],
    ['an unknown pipeline', 'pipeline=buses', 'unknown pipeline "buses"'],
    ['a window that ends before it starts', `pipeline=${WATCHED.pipeline}&from=2014-07-04&to=2014-07-01`, 'from 2014-07-04 is after to 2014-07-01'],
    ['a date that is no date', `pipeline=${WATCHED.pipeline}&from=2014-13-01`, 'from'],
  ])('refuses %s with 400 and one line', async (_case, query, message) => {
    const response = await get(query);
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { status: string; msg: string };
    expect(answer.status).toBe('error');
    expect(answer.msg).toContain(message);
  });

  it('is in the OpenAPI document, with its query and answer', async () => {
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters: { name: string }[]; responses: Record<string, unknown> } }> };
    const operation = document.paths['/v1/monitoring']?.get;
    expect(operation?.parameters.map((parameter) => parameter.name)).toEqual(['pipeline', 'from', 'to']);
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['200', '400']));
  });

  it('needs a token', async () => {
    expect((await get(`pipeline=${WATCHED.pipeline}`, 'not-a-token-000000000')).status).toBe(401);
  });
});
