/**
 * What the API holds every request to, with a single `detour serve` process on the embedded
 * database: body size and points (413), a rate limit per token (429 with Retry-After), a request
 * timeout (503) that stops the detection, tokens checked at start, and no Druid broker configured.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, druidDay, startServe, type ServeProcess } from './serve-process.js';

const TOKENS = ['first-token-0123456789', 'second-token-0123456789', 'limited-token-0123456789', 'spare-token-0123456789', 'recovery-token-0123456789'];
const LIMITS = { bodyLimitBytes: 262_144, maxPoints: 3_000, rateLimit: 5, timeoutSeconds: 1 };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Minutes from 2024-01-01 as series points (a slow sine with noise: ARIMA has work to do). */
function series(points: number): { timestamp: string; value: number }[] {
  return Array.from({ length: points }, (_, minute) => ({ timestamp: new Date(Date.UTC(2024, 0, 1) + minute * 60_000).toISOString(), value: 100 + 30 * Math.sin(minute / 50) + ((minute * 7919) % 13) }));
}

describe('API limits', () => {
  let cwd: string;
  let serve: ServeProcess;
  const url = (route: string) => `${serve.url}${route}`;

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-api-limits-'));
    await writeFile(
      path.join(cwd, 'detour.yaml'),
      `api: { bodyLimitBytes: ${LIMITS.bodyLimitBytes}, maxPoints: ${LIMITS.maxPoints}, rateLimit: { max: ${LIMITS.rateLimit}, windowSeconds: 60 }, requestTimeoutSeconds: ${LIMITS.timeoutSeconds} }\n`,
    );
    serve = await startServe(cwd, ['--no-schedules'], { DETOUR_API_TOKENS: TOKENS.map((token) => `${token}:read+detect`).join(',') });
  }, 60_000);

  afterAll(async () => {
    expect(await serve?.stop()).toBe(0);
    expect(serve?.output().stderr).toBe('');
    await rm(cwd, { recursive: true, force: true });
  });

  it('refuses a body over api.bodyLimitBytes (413), and a series over api.maxPoints (413)', async () => {
    const big = await call(url('/api/v1/outliers'), { token: TOKENS[0], form: { data: 'A'.repeat(LIMITS.bodyLimitBytes + 1) } });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ status: 'error', msg: 'Request body is too large' });
    const long = await call(url('/v1/detect'), { token: TOKENS[0], json: { detector: 'shallow', series: series(LIMITS.maxPoints + 1).map(({ timestamp }) => ({ timestamp, value: 1 })) } });
    if (long.status !== 413) throw new Error(await long.text());
    expect(await long.json()).toEqual({ status: 'error', msg: `${LIMITS.maxPoints + 1} points, more than the ${LIMITS.maxPoints} one request may send (api.maxPoints)` });
  });

  it('answers a query without druid.url with 400 saying what is missing', async () => {
    const answer = await call(url('/api/v1/outliers'), { token: TOKENS[0], form: { query: Buffer.from('{"queryType":"timeseries"}').toString('base64') } });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({ status: 'error', msg: 'a query needs a Druid broker: set druid.url in detour.yaml, or send the series itself as data' });
  });

  it('limits requests per token: 429 with Retry-After beyond the limit, other tokens and /healthz unaffected', async () => {
    const statuses: number[] = [];
    for (let request = 0; request <= LIMITS.rateLimit; request++) statuses.push((await call(url('/v1/runs'), { token: TOKENS[2] })).status);
    expect(statuses).toEqual([...Array(LIMITS.rateLimit).fill(200), 429]);
    const limited = await call(url('/v1/models'), { token: TOKENS[2] });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toEqual({ status: 'error', msg: expect.stringMatching(/^rate limit of 5 requests per 60 s reached; retry in \d+ s$/) });
    expect((await call(url('/v1/runs'), { token: TOKENS[3] })).status).toBe(200);
    for (let request = 0; request <= LIMITS.rateLimit; request++) expect((await call(url('/healthz'))).status).toBe(200);
  });

  it('answers 503 when a detection outlasts the request timeout, stops it, and keeps answering others meanwhile', async () => {
    let slowAnswered = false;
    // An ARIMA grid search over 3,000 points takes seconds: longer than the 1 s timeout.
    const slow = call(url('/v1/detect'), { token: TOKENS[1], json: { detector: 'arima', series: series(LIMITS.maxPoints), params: { search: 'grid', maxD: 0 } } }).then((response) => {
      slowAnswered = true;
      return response;
    });
    expect((await call(url('/healthz'))).status).toBe(200);
    expect(slowAnswered).toBe(false);
    const answer = await slow;
    expect(answer.status).toBe(503);
    expect(await answer.json()).toEqual({ status: 'error', msg: 'no answer within the request timeout (api.requestTimeoutSeconds); send less data or try again' });
    // Its thread was ended and replaced: detections run again once the new thread has started
    // (from sources through tsx that can take longer than this test's 1 s timeout).
    let next = 503;
    for (let attempt = 0; attempt < LIMITS.rateLimit && next === 503; attempt++) next = (await call(url('/api/v1/outliers'), { token: TOKENS[4], form: { data: druidDay('2024-01-01').data } })).status;
    expect(next).toBe(200);
  });

  it('refuses at start to serve beyond this machine without tokens, and a malformed DETOUR_API_TOKENS', () => {
    const cli = (args: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, ['--import', pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href, path.join(root, 'src/cli/main.ts'), 'serve', '--port', '0', '--no-schedules', ...args], {
        cwd,
        env: { ...process.env, DATABASE_URL: '', QUEUE_URL: '', DETOUR_API_TOKENS: '', ...env },
        encoding: 'utf8',
      });
    // A config without tokens: the test's config holds none, the environment gives none.
    const open = cli(['--host', '0.0.0.0'], {});
    expect({ status: open.status, stderr: open.stderr }).toEqual({ status: 2, stderr: 'detour: no API token is configured, so the API serves this machine only, not 0.0.0.0: add tokens (api.tokens in detour.yaml or DETOUR_API_TOKENS) to serve others\n' });
    const malformed = cli([], { DETOUR_API_TOKENS: 'short:read' });
    expect({ status: malformed.status, stderr: malformed.stderr }).toEqual({ status: 2, stderr: 'detour: DETOUR_API_TOKENS entry 1: expected TOKEN:scope[+scope] with a token of 16 or more letters, digits or ._~+/=-\n' });
    const scope = cli([], { DETOUR_API_TOKENS: 'long-enough-token-000:write' });
    expect(scope.stderr).toBe('detour: DETOUR_API_TOKENS entry 1: unknown scope "write" (scopes: read, detect, admin)\n');
  });
});
