/** What distributed benches start: a fresh database on the local PostgreSQL, and `detour worker` processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { App } from '../src/app/index.js';
import { BullmqQueue } from '../src/queue/index.js';
import type { Store } from '../src/store/index.js';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const ADMIN_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database on the local server, so that nothing counts as already done; dropped after the case. */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `detour_bench_${Date.now().toString(36)}_${randomUUID().slice(0, 8)}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.href, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A `detour serve` of the built CLI and where it serves. */
export interface Server {
  url: string;
  child: ChildProcess;
}

/** `detour serve` of the built CLI in `cwd` (no schedules, ports picked free) with `env` added; resolves once it serves. */
export function startServe(cwd: string, env: Record<string, string>, processes: number): Promise<Server> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--metrics-port', '0', '--no-schedules', '--processes', String(processes)], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`detour serve exited with ${code}`)));
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const url = /^serving: api (\S+)/m.exec(output)?.[1];
      if (url !== undefined) resolve({ url, child });
    });
  });
}

/** A `detour worker` process of the built CLI on the bench's Redis; resolves once it is ready. */
export function startWorker(configFile: string, databaseUrl: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', '--config', configFile, '--metrics-port', '0'], {
    env: { ...process.env, QUEUE_URL: REDIS_URL, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('worker ready') && resolve(child));
  });
}

/** Ends a distributed case: stops its workers, empties its queue on Redis, closes the app and store and drops the database. */
export async function closeDistributed(parts: { workers: ChildProcess[]; app: App; store: Store; database: { drop(): Promise<void> } }): Promise<void> {
  for (const worker of parts.workers) worker.kill('SIGTERM');
  if (parts.app.queue instanceof BullmqQueue) await parts.app.queue.obliterate();
  await parts.app.close();
  await parts.store.close();
  await parts.database.drop();
}
