/**
 * HTTP load cases: `detour serve` started as its own process tree (API on two processes sharing
 * the port, PostgreSQL), warmed up, then autocannon on loopback. What the `api` and `fleet`
 * benches share.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import type { BenchCase } from './main.js';
import { freshDatabase, startServe, type Server } from './services.js';

const CONNECTIONS = 4;
const WARM_UP_SECONDS = 3;
const LOAD_SECONDS = 10;

/** Resident memory of the server's processes (the primary and its workers), in MB. */
function serverRssMb(server: Server): number {
  const pid = String(server.child.pid);
  const kilobytes = execFileSync('ps', ['-o', 'rss=', '--pid', pid, '--ppid', pid], { encoding: 'utf8' });
  return Math.round(kilobytes.split(/\s+/).filter(Boolean).reduce((sum, value) => sum + Number(value), 0) / 1024);
}

/** The requests of a load: one kind, sent over and over. */
export interface Load {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Connections sending at once; default 4. One measures a request's latency alone. */
  connections?: number;
}

interface LoadResult {
  result: autocannon.Result;
  connections: number;
  rssMb: number;
}

/** What a case's `seed` fills a fresh database and lake folder (`root/lake`, config `root/detour.yaml`) with, returning the load. */
export type LoadSeed = (root: string, databaseUrl: string) => Promise<Load>;

/** A fresh database, a lake folder with `configYaml(lake)` beside it and a running server; `seed` fills them first. */
async function serverCase(configYaml: (lake: string) => string, seed: LoadSeed): Promise<() => Promise<LoadResult>> {
  const database = await freshDatabase();
  const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-api-'));
  await writeFile(path.join(root, 'detour.yaml'), configYaml(path.join(root, 'lake')));
  const load = await seed(root, database.url);
  const server = await startServe(root, { DATABASE_URL: database.url, DETOUR_API_TOKENS: '' }, 2);
  const connections = load.connections ?? CONNECTIONS;
  const options = { url: `${server.url}${load.path}`, method: load.method, headers: load.headers, body: load.body, connections };
  await autocannon({ ...options, duration: WARM_UP_SECONDS });
  return async () => {
    try {
      const result = await autocannon({ ...options, duration: LOAD_SECONDS });
      return { result, connections, rssMb: serverRssMb(server) };
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
      await rm(root, { recursive: true, force: true });
      await database.drop();
    }
  };
}

function report(value: unknown): Record<string, unknown> {
  const { result, connections, rssMb } = value as LoadResult;
  return {
    // The load's own duration, not the case's set-up and shutdown.
    seconds: result.duration,
    connections,
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    requests_per_s: Math.round(result.requests.average),
    requests: result.requests.total,
    non_2xx: result.non2xx,
    errors: result.errors,
    server_rss_mb: rssMb,
    load_average: Number(os.loadavg()[0].toFixed(1)),
  };
}

/**
 * A case loading a server over `configYaml`: `rows` is the requests answered, `seconds` the load's
 * duration; the line adds latency p50/p99 (ms), requests/s, non-2xx answers and the server's
 * resident memory (all its processes) after the load.
 */
export function httpLoadCase(label: string, rows: number, configYaml: (lake: string) => string, seed: LoadSeed): BenchCase {
  return { label, rows, prepare: () => serverCase(configYaml, seed), report };
}
