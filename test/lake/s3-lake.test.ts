import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError, NotFoundError, TransientError } from '../../src/errors.js';
import { type Lake, openLake, S3Lake } from '../../src/lake/index.js';
import { type S3TestServer, setS3Env, startS3Server } from '../helpers/s3-server.js';

/** A TCP server that answers every connection with a reset, as a crashing proxy would. */
async function startResettingServer(): Promise<{ endpoint: string; server: Server }> {
  const server = createServer((socket) => socket.resetAndDestroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { endpoint: `http://127.0.0.1:${port}`, server };
}

/** A port nothing listens on: bound once, then released. */
async function closedPortEndpoint(): Promise<string> {
  const { endpoint, server } = await startResettingServer();
  server.close();
  await once(server, 'close');
  return endpoint;
}

describe('S3Lake', () => {
  let s3: S3TestServer;
  const opened: Lake[] = [];

  /** A lake on the test server, closed after the test. */
  function lakeAt(url: string, options: ConstructorParameters<typeof S3Lake>[1] = {}): S3Lake {
    const credentials = { accessKeyId: s3.accessKey, secretAccessKey: s3.accessKey };
    const lake = new S3Lake(url, { endpoint: s3.endpoint, credentials, ...options });
    opened.push(lake);
    return lake;
  }

  beforeAll(async () => {
    s3 = await startS3Server();
  });
  afterAll(() => s3.stop());
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((lake) => lake.close()));
  });

  it('takes endpoint, region and credentials from the AWS_* environment, path-style', async () => {
    const restoreEnv = setS3Env(s3);
    try {
      const lake = openLake(`s3://${s3.bucket}/from-env`);
      opened.push(lake);
      await lake.put('a.csv', 'a');

      expect((await lake.get('a.csv')).toString()).toBe('a');
    } finally {
      restoreEnv();
    }
  });

  it('falls back to the generic AWS_ENDPOINT_URL', async () => {
    const restoreEnv = setS3Env(s3);
    process.env.AWS_ENDPOINT_URL = process.env.AWS_ENDPOINT_URL_S3;
    delete process.env.AWS_ENDPOINT_URL_S3;
    try {
      const lake = openLake(`s3://${s3.bucket}/generic-endpoint`);
      opened.push(lake);
      await lake.put('a.csv', 'a');

      expect(await lake.exists('a.csv')).toBe(true);
    } finally {
      restoreEnv();
    }
  });

  it('setS3Env restores the previous environment', () => {
    const before = { ...process.env };

    setS3Env(s3)();

    expect(process.env).toEqual(before);
  });

  it('stays inside its prefix: keys are relative to it, other prefixes are invisible', async () => {
    const whole = lakeAt(`s3://${s3.bucket}`);
    const prod = lakeAt(`s3://${s3.bucket}/confined/prod`);
    const dev = lakeAt(`s3://${s3.bucket}/confined/dev/`);
    await prod.put('bronze/a.csv', 'prod');
    await dev.put('bronze/a.csv', 'dev');

    expect(await prod.list('')).toEqual([{ key: 'bronze/a.csv', size: 4 }]);
    expect((await dev.get('bronze/a.csv')).toString()).toBe('dev');
    expect((await whole.list('confined/')).map((o) => o.key)).toEqual([
      'confined/dev/bronze/a.csv',
      'confined/prod/bronze/a.csv',
    ]);
  });

  it('has no local paths', () => {
    expect(lakeAt(`s3://${s3.bucket}`).localPath('a.csv')).toBeUndefined();
  });

  it('reports a missing object relative to the lake', async () => {
    const lake = lakeAt(`s3://${s3.bucket}/reports`);

    await expect(lake.get('gold/x.csv')).rejects.toThrow(
      new NotFoundError(`no object "gold/x.csv" in lake s3://${s3.bucket}/reports`),
    );
  });

  it('reports a missing bucket as configuration to fix, not as a missing object', async () => {
    const lake = lakeAt('s3://no-such-bucket/lake');

    for (const attempt of [() => lake.get('a.csv'), () => lake.put('a.csv', 'a'), () => lake.list('')]) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InputError);
      expect(error).not.toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toMatch(/^S3 bucket "no-such-bucket" does not exist \(\w+ s3:\/\/no-such-bucket\/lake\//);
    }
  });

  it('reports refused credentials in one line naming the object', async () => {
    const lake = lakeAt(`s3://${s3.bucket}`, { credentials: { accessKeyId: 'WRONG', secretAccessKey: 'WRONG' } });

    const error = await lake.put('bronze/a.csv', 'a').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(
      new RegExp(`^S3 put s3://${s3.bucket}/bronze/a\\.csv was refused, check the AWS credentials and bucket policy \\(InvalidAccessKeyId`),
    );
    expect((error as Error).message).not.toContain('\n');
  });

  it('wraps an unreachable endpoint in TransientError', async () => {
    const lake = lakeAt(`s3://${s3.bucket}`, { endpoint: await closedPortEndpoint() });

    const error = await lake.get('a.csv').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(
      new RegExp(`^S3 get s3://${s3.bucket}/a\\.csv failed, worth retrying \\(ECONNREFUSED`),
    );
  });

  it('wraps reset connections in TransientError', async () => {
    const { endpoint, server } = await startResettingServer();
    try {
      const lake = lakeAt(`s3://${s3.bucket}`, { endpoint });

      const error = await lake.list('bronze/').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(TransientError);
      expect((error as Error).message).toMatch(new RegExp(`^S3 list s3://${s3.bucket}/bronze/ failed, worth retrying \\(ECONNRESET`));
    } finally {
      server.close();
    }
  });
});
