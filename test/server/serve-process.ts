/** `detour serve` as a real process (the CLI from sources through tsx), for tests that drive its HTTP API. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TSX_LOADER = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const CLI = path.join(root, 'src/cli/main.ts');

export interface ServeProcess {
  /** The API's base URL, as `serve` printed it. */
  url: string;
  process: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** SIGTERM, then the exit code once it has exited. */
  stop(): Promise<number | null>;
}

/**
 * Starts `detour serve --port 0 --metrics-port 0 <args>` in `cwd` and resolves once it prints
 * where it serves. `env` is added to this process's environment (DATABASE_URL and QUEUE_URL are
 * cleared unless given).
 */
export async function startServe(cwd: string, args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI, 'serve', '--port', '0', '--metrics-port', '0', ...args], {
    cwd,
    env: { ...process.env, DATABASE_URL: '', QUEUE_URL: '', DETOUR_API_TOKENS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const served = /^serving: api (http:\/\/\S+)/m.exec(stdout)?.[1];
      if (served !== undefined) resolve(served);
    });
    void exited.then(([code]) => reject(new Error(`detour serve exited with ${code} before serving: ${stderr}`)));
  });
  return {
    url,
    process: child,
    output: () => ({ stdout, stderr }),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
  };
}

/** fetch with a bearer token (when given) and a JSON body (when given). */
export function call(url: string, options: { method?: string; token?: string; json?: unknown; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  return fetch(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
}

/** A day of a Druid timeseries result (one point a minute) with `metric` and a spike at `spikeMinute`, and its base64 as rb-aioutliers' `data`. */
export function druidDay(day: string, metric = 'bytes', spikeMinute = 700): { rows: { timestamp: string; result: Record<string, number> }[]; data: string } {
  const start = Date.parse(`${day}T00:00:00Z`);
  const rows = Array.from({ length: 1440 }, (_, minute) => ({
    timestamp: new Date(start + minute * 60_000).toISOString(),
    result: { [metric]: Math.round(50_000 + 20_000 * Math.sin((2 * Math.PI * minute) / 1440) + ((minute * 7919) % 997) + (minute === spikeMinute ? 40_000 : 0)), pkts: minute },
  }));
  return { rows, data: Buffer.from(JSON.stringify(rows)).toString('base64') };
}
