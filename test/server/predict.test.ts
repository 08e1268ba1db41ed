/**
 * `POST /v1/predict/{model}` over HTTP: a logistic model trained by a training run on a week of
 * trips, served by its production version; features checked by name, type and the ranges its
 * training step declared; scopes; and `/v1/detect` refusing a supervised model as bad input.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app/index.js';
import { parseConfigText } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { FsLake } from '../../src/lake/index.js';
import { runParamsOf, startRun, startTrainingRun, trainingParamsOf } from '../../src/pipeline/index.js';
import { SeededRandom } from '../../src/random.js';
import { apiTokens, startApiServer, type ApiServer } from '../../src/server/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { call } from './serve-process.js';

const DAYS = dateRange('2024-05-01', '2024-05-07');
const TOKENS = { read: 'read-token-0123456789', detect: 'detect-token-0123456789' };

const YAML = `
datasets:
  trips:
    columns:
      trip_id: { type: string }
      started_at: { type: timestamp }
      temperature: { type: number }
      precipitation: { type: number, min: 0 }
      mileage: { type: number }
      service_requested: { type: number }
    key: trip_id
pipelines:
  fleet_api:
    dataset: trips
    train:
      - model: trip_service
        detector: logistic
        table: trips
        label: service_requested
        time: started_at
        features: [temperature, precipitation, mileage]
        ranges: { temperature: { min: -60, max: 60 }, precipitation: { min: 0 }, mileage: { min: 0 } }
        history: 7
        minRows: 100
        promote: auto
      - { model: trip_manual, detector: logistic, table: trips, label: service_requested, time: started_at, features: [mileage], history: 7, minRows: 100, promote: manual }
`;

/** A day of trips whose chance of a service request grows with mileage and rain. */
function tripsCsv(date: string, random: SeededRandom): string {
  const lines = ['trip_id,started_at,temperature,precipitation,mileage,service_requested'];
  for (let trip = 0; trip < 200; trip++) {
    const temperature = random.uniform(-10, 35);
    const precipitation = random.next() < 0.6 ? 0 : random.uniform(0, 20);
    const mileage = random.uniform(0, 120);
    const logOdds = -2.5 + 0.035 * mileage + 0.08 * precipitation - 0.02 * temperature;
    const outcome = random.next() < 1 / (1 + Math.exp(-logOdds)) ? 1 : 0;
    lines.push(`${date}-${trip},${date} ${String(6 + (trip % 16)).padStart(2, '0')}:${String(trip % 60).padStart(2, '0')}:00,${temperature.toFixed(1)},${precipitation.toFixed(1)},${mileage.toFixed(1)},${outcome}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('POST /v1/predict/{model}', () => {
  let root: string;
  let store: Store;
  let app: App;
  let server: ApiServer;
  const predict = (model: string, body: unknown, token: string | null = TOKENS.detect) => call(`${server.url}/v1/predict/${model}`, { token: token ?? undefined, json: body });
  const answer = async (response: Promise<Response>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const answered = await response;
    return { status: answered.status, body: (await answered.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-predict-'));
    const config = parseConfigText(YAML, 'detour.yaml');
    const lake = new FsLake(path.join(root, 'lake'));
    const random = new SeededRandom(9);
    for (const date of DAYS) await lake.put(`bronze/trips/date=${date}/trips.csv`, tripsCsv(date, random));
    store = await openStore({ stateDir: path.join(root, 'state') });
    app = await openApp({ config, lake, store });
    const services = await app.services({ concurrency: 2 });
    await startRun(services, 'fleet_api', runParamsOf(config, 'fleet_api'), DAYS);
    await startTrainingRun(services, 'fleet_api', trainingParamsOf(config, 'fleet_api'), DAYS.at(-1) as string);
    server = await startApiServer(app, { port: 0, tokens: apiTokens([], `${TOKENS.read}:read,${TOKENS.detect}:detect`), runServices: () => app.services() });
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await app?.close();
    await store?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('answers the probability of one row with the production version that gave it, the same as that row in a batch', async () => {
    const wet = { temperature: 12, precipitation: 15, mileage: 110 };
    const dry = { mileage: 5, precipitation: 0, temperature: 20 };
    const single = await answer(predict('trip_service', wet));
    expect(single.status).toBe(200);
    expect(Object.keys(single.body)).toEqual(['probability', 'model']);
    expect(single.body.model).toEqual({ name: 'trip_service', version: 1 });
    const batch = await answer(predict('trip_service', { rows: [wet, dry, wet] }));
    expect(batch.status).toBe(200);
    expect(batch.body.model).toEqual({ name: 'trip_service', version: 1 });
    const [wetP, dryP, again] = batch.body.probabilities as number[];
    expect(wetP).toBe(single.body.probability);
    expect(again).toBe(wetP);
    // Rain and mileage raise the chance of a service request.
    expect(wetP).toBeGreaterThan(dryP);
    expect(dryP).toBeGreaterThan(0);
    expect(wetP).toBeLessThan(1);
  });

  it('answers 10,000 rows at once and refuses more', async () => {
    const rows = Array.from({ length: 10_000 }, (_, row) => ({ temperature: (row % 90) - 30, precipitation: row % 7, mileage: row % 150 }));
    const batch = await answer(predict('trip_service', { rows }));
    expect(batch.status).toBe(200);
    expect(batch.body.probabilities).toHaveLength(10_000);
    const tooMany = await answer(predict('trip_service', { rows: [...rows, rows[0]] }));
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.msg).toMatch(/rows/);
  });

  it.each([
    ['an unknown feature', { temperature: 12, precipitation: 0, mileage: 40, wind: 3 }, 'unknown feature "wind" (the model takes temperature, precipitation, mileage)'],
    ['a missing feature', { temperature: 12, mileage: 40 }, 'missing feature "precipitation" (the model takes temperature, precipitation, mileage)'],
    ['a string', { temperature: '12', precipitation: 0, mileage: 40 }, 'temperature must be a number, got string "12"'],
    ['NaN spelt as a string', { temperature: 'NaN', precipitation: 0, mileage: 40 }, 'temperature must be a number, got string "NaN"'],
    ['a temperature above 60 °C', { temperature: 75, precipitation: 0, mileage: 40 }, 'temperature must be within -60..60, got 75'],
    ['a temperature below -60 °C', { temperature: -61, precipitation: 0, mileage: 40 }, 'temperature must be within -60..60, got -61'],
    ['a negative mileage', { temperature: 12, precipitation: 0, mileage: -1 }, 'mileage must be >= 0, got -1'],
    ['a bad row among rows, named', { rows: [{ temperature: 12, precipitation: 0, mileage: 40 }, { temperature: 12, precipitation: 0, mileage: null }] }, 'rows[1]: mileage must be a number, got null'],
    ['rows beside features', { rows: [{ temperature: 12, precipitation: 0, mileage: 40 }], temperature: 3 }, 'send either rows or one row of features, not both'],
  ])('answers 400 with one message for %s', async (_, body, msg) => {
    expect(await answer(predict('trip_service', body))).toEqual({ status: 400, body: { status: 'error', msg } });
  });

  it('answers 400 for a body that is not JSON (NaN is not JSON) or not an object', async () => {
    const nan = await answer(fetch(`${server.url}/v1/predict/trip_service`, { method: 'POST', headers: { authorization: `Bearer ${TOKENS.detect}`, 'content-type': 'application/json' }, body: '{"temperature": NaN, "precipitation": 0, "mileage": 1}' }));
    expect(nan.status).toBe(400);
    expect(nan.body.status).toBe('error');
    const array = await answer(predict('trip_service', [1, 2]));
    expect(array.status).toBe(400);
  });

  it('answers 404 for a model without a production version, and 400 for a name that could reach outside the registry', async () => {
    expect(await answer(predict('trip_manual', { mileage: 3 }))).toEqual({ status: 404, body: { status: 'error', msg: 'model trip_manual has no production version (GET /v1/models/trip_manual lists its versions)' } });
    expect((await answer(predict('no_such_model', { mileage: 3 }))).status).toBe(404);
    expect((await answer(predict('..%2F..%2Fx', { mileage: 3 }))).status).toBe(400);
  });

  it('needs the detect scope', async () => {
    const row = { temperature: 12, precipitation: 0, mileage: 40 };
    expect((await predict('trip_service', row, null)).status).toBe(401);
    expect((await predict('trip_service', row, TOKENS.read)).status).toBe(403);
  });

  it('is listed in the OpenAPI document', async () => {
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, { post?: { security?: unknown } }> };
    expect(document.paths['/v1/predict/{model}']?.post?.security).toEqual([{ bearer: [] }]);
  });

  it('/v1/detect naming a supervised model answers 400 saying where it predicts', async () => {
    const detected = await answer(call(`${server.url}/v1/detect`, { token: TOKENS.detect, json: { model: 'trip_service', records: [{ temperature: 12, precipitation: 0, mileage: 40 }] } }));
    expect(detected).toEqual({
      status: 400,
      body: { status: 'error', msg: 'model trip_service is a supervised model (logistic): it predicts probabilities, it does not score anomalies; POST /v1/predict/trip_service predicts with it' },
    });
  });
});
