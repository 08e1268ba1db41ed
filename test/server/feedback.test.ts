import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app/index.js';
import { DetourConfigSchema } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { apiTokens, startApiServer, type ApiServer } from '../../src/server/index.js';
import { openStore } from '../../src/store/index.js';

const READ = 'read-token-00000000001';
const DETECT = 'detect-token-0000000002';

describe('POST /v1/feedback: a verdict on a published anomaly', () => {
  let app: App;
  let server: ApiServer;
  const post = (body: unknown, token = DETECT) =>
    fetch(`${server.url}/v1/feedback`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-feedback-'));
    const store = await openStore({ stateDir: path.join(root, 'state') });
    app = await openApp({ config: DetourConfigSchema.parse({}), lake: new FsLake(path.join(root, 'lake')), store });
    await store.replaceAnomalies('ride_anomalies', 'run-1', [
      { logicalDate: '2024-01-05', rows: [{ id: 'R1', detector: 'conditional', entity: 'T7', value: 94, expected: 20, lower: 5, upper: 40, score: 0.9, reason: 'ride time 94 min' }] },
    ]);
    server = await startApiServer(app, { port: 0, host: '127.0.0.1', tokens: apiTokens([], `${READ}:read,${DETECT}:detect`), runServices: () => app.services() });
  });
  afterAll(async () => {
    await server?.close();
    await app?.close();
    await app?.store.close();
  });

  it('records it with the token\'s name, and a later verdict replaces it', async () => {
    const first = await post({ pipeline: 'rides', date: '2024-01-05', id: 'R1', verdict: 'false_positive', note: 'a long airport queue' });
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ pipeline: 'rides', date: '2024-01-05', id: 'R1', verdict: 'false_positive', note: 'a long airport queue', recordedBy: 'DETOUR_API_TOKENS #2' });
    expect((await post({ pipeline: 'rides', date: '2024-01-05', id: 'R1', verdict: 'true_positive' })).status).toBe(201);
    expect(await app.store.listFeedback('rides', '2024-01-05', '2024-01-05')).toEqual([expect.objectContaining({ anomalyId: 'R1', verdict: 'true_positive', note: null })]);
  });

  it('takes a missed record (false_negative) that was never published', async () => {
    expect((await post({ pipeline: 'rides', date: '2024-01-05', id: 'R2', verdict: 'false_negative' })).status).toBe(201);
  });

  it.each([
    ['an anomaly never published', { pipeline: 'rides', date: '2024-01-05', id: 'R9', verdict: 'true_positive' }, 404, 'rides published no anomaly "R9" on 2024-01-05'],
    ['an unknown pipeline', { pipeline: 'buses', date: '2024-01-05', id: 'R1', verdict: 'true_positive' }, 400, 'unknown pipeline "buses"'],
    ['an unknown verdict', { pipeline: 'rides', date: '2024-01-05', id: 'R1', verdict: 'maybe' }, 400, 'verdict'],
    ['a date that is no date', { pipeline: 'rides', date: '2024-13-05', id: 'R1', verdict: 'true_positive' }, 400, 'date'],
    ['a field it does not know', { pipeline: 'rides', date: '2024-01-05', id: 'R1', verdict: 'true_positive', score: 1 }, 400, 'score'],
  ])('refuses %s with %i and one line', async (_case, body, status, message) => {
    const response = await post(body);
    expect(response.status).toBe(status);
    const answer = (await response.json()) as { status: string; msg: string };
    expect(answer.status).toBe('error');
    expect(answer.msg).toContain(message);
  });

  it('needs the detect scope', async () => {
    const response = await post({ pipeline: 'rides', date: '2024-01-05', id: 'R1', verdict: 'true_positive' }, READ);
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ status: 'error', msg: 'this route needs the detect scope; the token has read' });
  });
});
