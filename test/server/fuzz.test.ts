/**
 * A seeded fuzzer of the HTTP API: thousands of random and mutated requests (valid bodies with
 * fields removed, retyped, reordered, repeated; broken base64, JSON and encodings; wrong content
 * types, methods and paths) against one `detour serve`. No request may get a 5xx or take the server down.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../src/random.js';
import { startServe, type ServeProcess } from './serve-process.js';

const TOKEN = 'fuzz-token-0123456789';
const REQUESTS = 2_400;
const AT_ONCE = 6;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

class Fuzzer {
  constructor(private readonly random: SeededRandom) {}

  pick<T>(choices: readonly T[]): T {
    return choices[this.random.below(choices.length)];
  }

  chance(probability: number): boolean {
    return this.random.next() < probability;
  }

  junk(): Json {
    return this.pick<() => Json>([
      () => null,
      () => this.chance(0.5),
      () => this.random.uniform(-1e6, 1e6),
      () => this.pick([0, -0, 1e308, -1e308, 5e-324, 2 ** 53 + 1, -1]),
      () => this.pick(['NaN', 'Infinity', '-Infinity', '', ' ', '2024-13-45T25:61:00Z', '../../etc/passwd', '\u0000', 'é', '💥', 'A'.repeat(5_000)]),
      () => [],
      () => ({}),
      () => [this.random.next(), 'x', null],
      () => ({ nested: { deeper: [1, { x: 'y' }] } }),
    ])();
  }

  timestamp(minute: number): string {
    return new Date(Date.UTC(2024, 0, 1) + minute * 60_000).toISOString();
  }

  series(): { timestamp: string; value: number | null }[] {
    const points = 2 + this.random.below(300);
    return Array.from({ length: points }, (_, minute) => ({ timestamp: this.timestamp(minute), value: this.chance(0.02) ? null : Math.round(1_000 + 400 * Math.sin(minute / 30) + this.random.normal() * 40) }));
  }

  validBody(): { path: string; body: Json; form?: boolean } {
    return this.pick<() => { path: string; body: Json; form?: boolean }>([
      () => {
        const rows = this.series().map((point) => ({ timestamp: point.timestamp, result: { bytes: point.value, pkts: 3 } }));
        const form: Record<string, Json> = { data: Buffer.from(JSON.stringify(rows)).toString('base64') };
        if (this.chance(0.3)) form.model = Buffer.from(this.pick(['sensor_if/s1', 'nobody/x', 'Bad Name', '../../x'])).toString('base64');
        return { path: '/api/v1/outliers', body: form, form: true };
      },
      () => ({ path: '/v1/detect', body: { detector: this.pick(['shallow', 'arima', 'iforest']), series: this.series(), ...(this.chance(0.3) ? { params: { trees: 20 } } : {}) } }),
      () => {
        const records = Array.from({ length: 2 + this.random.below(300) }, (_, i) => ({ id: `r${i}`, km: this.random.uniform(0, 20), minutes: this.random.uniform(1, 60) }));
        return { path: '/v1/detect', body: { detector: this.pick(['dbscan', 'iforest']), records, ...(this.chance(0.3) ? { params: { minSamples: 3 } } : {}) } };
      },
      () => ({ path: '/v1/detect', body: { model: 'sensor_if/s1', series: this.series() } }),
      () => ({ path: '/v1/runs', body: { pipeline: this.pick(['rides', 'flights', 'nope']), date: this.pick(['2024-01-01', '2031-02-30', 'yesterday']) } }),
      () => ({ path: `/v1/runs/${this.pick(['2024', 'x', '%00', '..'])}/rerun`, body: { allowChangedInputs: this.chance(0.5) } }),
    ])();
  }

  /** Paths inside a JSON value, for mutations. */
  private locations(value: Json, trail: (string | number)[] = [], found: (string | number)[][] = []): (string | number)[][] {
    found.push(trail);
    if (Array.isArray(value)) value.slice(0, 20).forEach((item, index) => this.locations(item, [...trail, index], found));
    else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) this.locations(item, [...trail, key], found);
    return found;
  }

  /** The value with one random location removed, retyped, duplicated, swapped or emptied. */
  mutate(value: Json): Json {
    const copy = JSON.parse(JSON.stringify(value)) as Json;
    const location = this.pick(this.locations(copy));
    if (location.length === 0) return this.junk();
    const parent = location.slice(0, -1).reduce<Json>((node, key) => (node as Record<string, Json>)[key], copy) as Record<string, Json> | Json[];
    const key = location[location.length - 1];
    const operation = this.random.below(5);
    if (Array.isArray(parent)) {
      const index = key as number;
      if (operation === 0) parent.splice(index, 1);
      else if (operation === 1) parent.splice(index, 0, parent[index]);
      else if (operation === 2) [parent[index], parent[0]] = [parent[0], parent[index]];
      else if (operation === 3) parent.length = this.random.below(2);
      else parent[index] = this.junk();
    } else if (operation === 0) delete parent[key as string];
    else if (operation === 1) parent[`${String(key)}_extra`] = this.junk();
    else parent[key as string] = this.junk();
    return copy;
  }

  brokenBase64(text: string): string {
    return this.pick([
      () => text.slice(0, this.random.below(text.length + 1)),
      () => `${text.slice(0, 10)}!@#${text.slice(10)}`,
      () => Buffer.from(Buffer.from(text, 'base64').subarray(0, this.random.below(200))).toString('base64'),
      () => Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]).toString('base64'),
      () => Buffer.from('{"not": "a druid result"}').toString('base64'),
      () => Buffer.from('[{"timestamp": 5, "result": []}]').toString('base64'),
    ])();
  }

  request(): FuzzRequest {
    const headers: Record<string, string> = this.chance(0.93) ? { authorization: `Bearer ${TOKEN}` } : { authorization: this.pick(['Bearer', 'Basic abc', `Bearer ${TOKEN}x`, 'Bearer  ', '']) };
    const kind = this.random.below(10);
    if (kind <= 5) {
      const { path: route, body, form } = this.validBody();
      let payload: Json = kind <= 1 ? body : this.mutate(kind === 5 ? this.mutate(body) : body);
      if (form && kind === 4 && payload !== null && typeof payload === 'object' && !Array.isArray(payload) && typeof payload.data === 'string') payload = { ...payload, data: this.brokenBase64(payload.data) };
      if (form && payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
        const fields = Object.entries(payload).map(([field, value]): [string, string] => [field, typeof value === 'string' ? value : JSON.stringify(value)]);
        return { method: 'POST', path: route, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() };
      }
      return { method: 'POST', path: route, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(payload) };
    }
    if (kind === 6) {
      const { path: route, body } = this.validBody();
      const text = JSON.stringify(body);
      const broken = this.pick([
        () => text.slice(0, this.random.below(text.length)),
        () => Buffer.concat([Buffer.from(text.slice(0, 40)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(text.slice(40))]),
        () => `${text}}`,
        () => '',
        () => '{"__proto__": {"polluted": true}}',
        () => '{"constructor": {"prototype": {"x": 1}}}',
        () => `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
      ])();
      const type = this.pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/xml']);
      return { method: 'POST', path: route, headers: { ...headers, 'content-type': type }, body: broken };
    }
    if (kind === 7) {
      const query = this.pick([
        'pipeline=rides&limit=-1', 'pipeline=rides&limit=1e9', 'pipeline=rides&cursor=%%%', 'pipeline=rides&cursor=eyJkYXRlIjoxfQ', 'pipeline=rides&minScore=2', 'pipeline=rides&from=2024-02-30',
        'pipeline=&entity=', 'pipeline=rides&pipeline=flights', 'limit=abc', 'status=exploded', `cursor=${'x'.repeat(3_000)}`, 'dataset=rides&from=2030-01-01&to=2020-01-01', 'name=..%2F..&stage=gone', 'pipeline=rides&entity=%00', 'pipeline=%00', 'dataset=%00x', 'pipeline=r%C3%28', '',
      ]);
      return { method: 'GET', path: `${this.pick(['/v1/runs', '/v1/anomalies', '/v1/quality', '/v1/models'])}?${query}`, headers };
    }
    if (kind === 8) {
      const route = this.pick(['/v1/runs/%2e%2e', '/v1/runs/' + 'z'.repeat(300), '/v1/models/..%2F..%2Fx', '/v1/models/a/b/c/d', '/v1/models/%00', '/v1/models/m%2Fe/versions/0/promote', '/v1/models/m/e/versions/-3/promote', '/api/v1/outliers/../../x', '/v1/%ZZ', '/../../etc/passwd', '/docs/static/%2e%2e/%2e%2e/package.json', '/v1/detect?x=%', '//v1//runs']);
      return { method: this.pick(['GET', 'POST', 'DELETE']), path: route, headers };
    }
    const method = this.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
    return { method, path: this.pick(['/v1/detect', '/api/v1/outliers', '/v1/runs', '/healthz', '/openapi.json']), headers, body: method !== 'HEAD' && this.chance(0.5) ? '{}' : undefined };
  }
}

describe('fuzzing the HTTP API', () => {
  let cwd: string;
  let serve: ServeProcess;

  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-api-fuzz-'));
    await writeFile(path.join(cwd, 'detour.yaml'), 'api: { rateLimit: { max: 1000000 } }\n');
    serve = await startServe(cwd, ['--no-schedules'], { DETOUR_API_TOKENS: `${TOKEN}:admin` });
  }, 60_000);

  afterAll(async () => {
    expect(await serve?.stop()).toBe(0);
    await rm(cwd, { recursive: true, force: true });
  });

  it(`answers ${REQUESTS} random and mutated requests without a 5xx, and stays healthy`, async () => {
    const fuzzer = new Fuzzer(new SeededRandom(20_240_101));
    const requests = Array.from({ length: REQUESTS }, () => fuzzer.request());
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const lane = async () => {
      while (next < requests.length) {
        const request = requests[next++];
        const response = await fetch(`${serve.url}${request.path}`, { method: request.method, headers: request.headers, body: request.body });
        const text = await response.text();
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500) failures.push(`${request.method} ${request.path} ${String(request.body ?? '').slice(0, 120)} → ${response.status} ${text.slice(0, 200)}`);
        else if (response.status >= 400 && request.method !== 'HEAD') {
          // Every refusal is one clear line in the API's error shape.
          const body = JSON.parse(text) as { status: string; msg: string };
          expect(body.status, text).toBe('error');
          expect(body.msg.length).toBeGreaterThan(0);
          expect(body.msg).not.toMatch(/[\n\r]/);
        }
      }
    };
    await Promise.all(Array.from({ length: AT_ONCE }, lane));
    expect(failures).toEqual([]);
    // The fuzzer reached past validation: detections answered, and many kinds of refusal.
    expect(statuses.get(200)).toBeGreaterThan(REQUESTS / 10);
    expect([...statuses.keys()].filter((status) => status >= 400).length).toBeGreaterThanOrEqual(5);
    expect(serve.process.exitCode).toBeNull();
    expect(await (await fetch(`${serve.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(serve.output().stderr).toBe('');
  }, 600_000);
});
