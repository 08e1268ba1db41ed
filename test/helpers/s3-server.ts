import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** A running s3rver with one empty bucket. */
export interface S3TestServer {
  /** `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL_S3 or S3LakeOptions.endpoint. */
  endpoint: string;
  bucket: string;
  /** The access key s3rver accepts (its secret is the same string). */
  accessKey: string;
  /** Stops the server and deletes its data folder. Safe to call twice. */
  stop(): Promise<void>;
}

// s3rver only accepts its built-in account; every request is signature-checked against it.
const S3RVER_KEY = 'S3RVER';

/**
 * Runs in the child: starts s3rver, reports the bound port as one JSON line, and exits when
 * stdin closes, which also happens when the test process dies, so no server outlives its test.
 */
const SERVER_SCRIPT = `
const [modulePath, directory, bucket] = process.argv.slice(1);
const S3rver = require(modulePath);
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
server.run().then(
  ({ port }) => process.stdout.write(JSON.stringify({ port }) + '\\n'),
  (error) => { console.error(error); process.exit(1); },
);
process.stdin.on('end', () => process.exit(0)).resume();
`;

/**
 * Starts a real s3rver on 127.0.0.1 at a free port, storing into a fresh temp folder, with
 * `bucket` created.
 *
 * It runs in a child process because s3rver 3.7 signs ListObjectsV2 continuation tokens with
 * DES, which OpenSSL 3 (Node 17+) only provides under --openssl-legacy-provider: in-process,
 * every truncated listing (over 1,000 keys) would fail with a 500.
 */
export async function startS3Server(options: { bucket?: string } = {}): Promise<S3TestServer> {
  const bucket = options.bucket ?? 'detour-test';
  const directory = await mkdtemp(path.join(tmpdir(), 'detour-s3rver-'));
  const modulePath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', SERVER_SCRIPT, modulePath, directory, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.stdin.end();
      await exited;
    }
    await rm(directory, { recursive: true, force: true });
  };

  try {
    const port = await readPort(child);
    return { endpoint: `http://127.0.0.1:${port}`, bucket, accessKey: S3RVER_KEY, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The port the child reports once listening; rejects if it dies first. */
function readPort(child: ChildProcessByStdio<Writable, Readable, null>): Promise<number> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening`)));
  });
}

/**
 * Points the AWS SDK at `server` through the standard environment variables, as a deployed
 * detour would be configured for MinIO, and returns the function that restores the previous
 * values. Use it around code that opens lakes by URL:
 *
 *     beforeEach(() => { restoreEnv = setS3Env(server); });
 *     afterEach(() => restoreEnv());
 *
 * Variables that would override these (a session token, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
 * a generic AWS_ENDPOINT_URL) are unset meanwhile.
 */
export function setS3Env(server: Pick<S3TestServer, 'endpoint' | 'accessKey'>): () => void {
  const values: Record<string, string | undefined> = {
    AWS_ENDPOINT_URL_S3: server.endpoint,
    AWS_ENDPOINT_URL: undefined,
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: undefined,
    AWS_ACCESS_KEY_ID: server.accessKey,
    AWS_SECRET_ACCESS_KEY: server.accessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: 'us-east-1',
  };
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  assignEnv(values);
  return () => assignEnv(previous);
}

function assignEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}
