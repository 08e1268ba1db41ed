import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const here = path.dirname(fileURLToPath(import.meta.url));
const TSX_LOADER = path.resolve(here, '../../node_modules/tsx/dist/loader.mjs');
const CLI = path.resolve(here, '../../src/cli/main.ts');

export interface Worker {
  process: ChildProcess;
  metricsUrl: string;
}

/** A `detour worker` process; resolves once it says it is ready, with where it serves /metrics. */
export function startWorker(configFile: string, databaseUrl: string): Promise<Worker> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI, 'worker', '--config', configFile, '--metrics-port', '0'], {
    env: { ...process.env, QUEUE_URL: REDIS_URL, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready: ${stderr}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      const metricsUrl = /worker ready: .* metrics (\S+)/.exec(chunk.toString())?.[1];
      if (metricsUrl) resolve({ process: child, metricsUrl });
    });
  });
}
