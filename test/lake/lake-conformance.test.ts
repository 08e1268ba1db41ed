import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError, NotFoundError } from '../../src/errors.js';
import { envLake, FsLake, type Lake, S3Lake } from '../../src/lake/index.js';
import { type S3TestServer, startS3Server } from '../helpers/s3-server.js';
import { tempFilesUnder } from '../helpers/temp-files.js';

/** Opens a fresh, empty lake per test on one backend. */
interface Backend {
  name: string;
  start(): Promise<void>;
  freshLake(): Promise<Lake>;
  stop(): Promise<void>;
}

function fsBackend(): Backend {
  let scratch: string;
  let count = 0;
  return {
    name: 'fs',
    async start() {
      scratch = await mkdtemp(path.join(tmpdir(), 'detour-fs-lake-'));
    },
    // A folder that does not exist yet: the lake must create it on first write.
    freshLake: async () => new FsLake(path.join(scratch, `lake-${++count}`)),
    stop: () => rm(scratch, { recursive: true, force: true }),
  };
}

function s3Backend(): Backend {
  let server: S3TestServer;
  let count = 0;
  return {
    name: 's3',
    async start() {
      server = await startS3Server();
    },
    // One bucket, one prefix per test: also proves the adapter confines itself to its prefix.
    freshLake: async () =>
      new S3Lake(`s3://${server.bucket}/lake-${++count}`, {
        endpoint: server.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: server.accessKey, secretAccessKey: server.accessKey },
      }),
    stop: () => server.stop(),
  };
}

/** An environment's lake (`envs/<env>/` of a backend's): the same contract, confined to its folder. */
function envBackend(outer: Backend): Backend {
  return {
    name: `${outer.name} in envs/staging/`,
    start: () => outer.start(),
    freshLake: async () => envLake(await outer.freshLake(), 'staging', { closesOuter: true }),
    stop: () => outer.stop(),
  };
}

describe.each([fsBackend(), s3Backend(), envBackend(fsBackend()), envBackend(s3Backend())])('Lake conformance: $name', (backend) => {
  let lake: Lake;
  let scratch: string;

  beforeAll(() => backend.start());
  afterAll(() => backend.stop());
  beforeEach(async () => {
    lake = await backend.freshLake();
    scratch = await mkdtemp(path.join(tmpdir(), 'detour-lake-scratch-'));
  });
  afterEach(async () => {
    await lake.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('round-trips strings as UTF-8 and binary buffers byte for byte', async () => {
    const binary = Buffer.from([0, 1, 2, 127, 128, 254, 255, 0]);
    await lake.put('text.txt', 'héllo, wörld\n');
    await lake.put('blob.bin', binary);

    expect((await lake.get('text.txt')).toString('utf8')).toBe('héllo, wörld\n');
    expect(await lake.get('blob.bin')).toEqual(binary);
  });

  it('round-trips an empty object', async () => {
    await lake.put('empty.csv', '');

    expect(await lake.get('empty.csv')).toEqual(Buffer.alloc(0));
    expect(await lake.list('')).toEqual([{ key: 'empty.csv', size: 0 }]);
  });

  it('replaces an object on overwrite, including with a shorter body', async () => {
    await lake.put('a.csv', 'a long first version');
    await lake.put('a.csv', 'short');

    expect((await lake.get('a.csv')).toString()).toBe('short');
    expect(await lake.list('')).toEqual([{ key: 'a.csv', size: 5 }]);
  });

  it('lists recursively under a prefix, sorted, with exact keys and sizes', async () => {
    const keys = [
      'bronze/rides/date=2024-01-02/part-0.csv',
      'bronze/rides/date=2024-01-01/part-1.csv',
      'bronze/rides/date=2024-01-01/part-0.csv',
      'bronze/rides-archive/date=2024-01-01/part-0.csv',
      'bronze/weather/date=2024-01-01/part-0.csv',
      'silver/rides/date=2024-01-01/part-0.parquet',
    ];
    for (const key of keys) await lake.put(key, key);

    expect(await lake.list('bronze/rides/')).toEqual([
      { key: 'bronze/rides/date=2024-01-01/part-0.csv', size: 39 },
      { key: 'bronze/rides/date=2024-01-01/part-1.csv', size: 39 },
      { key: 'bronze/rides/date=2024-01-02/part-0.csv', size: 39 },
    ]);
    expect((await lake.list('bronze/rides/date=2024-01-01/')).map((o) => o.key)).toEqual([
      'bronze/rides/date=2024-01-01/part-0.csv',
      'bronze/rides/date=2024-01-01/part-1.csv',
    ]);
    expect((await lake.list('')).map((o) => o.key)).toEqual([...keys].sort());
  });

  it('treats a prefix as a string prefix, not only as a folder, like S3 does', async () => {
    for (const key of ['bronze/rides/x.csv', 'bronze/rides-archive/x.csv', 'bronze/weather/x.csv', 'bronze/ridesX.csv']) {
      await lake.put(key, 'x');
    }

    expect((await lake.list('bronze/rides')).map((o) => o.key)).toEqual([
      'bronze/rides-archive/x.csv',
      'bronze/rides/x.csv',
      'bronze/ridesX.csv',
    ]);
    expect((await lake.list('bronze/rides/x')).map((o) => o.key)).toEqual(['bronze/rides/x.csv']);
  });

  it('lists nothing for a missing prefix, a prefix through an object, and an empty lake', async () => {
    expect(await lake.list('')).toEqual([]);
    await lake.put('bronze/rides/a.csv', 'a');

    expect(await lake.list('gold/')).toEqual([]);
    expect(await lake.list('bronze/rides/a.csv/')).toEqual([]);
  });

  it('lists past one S3 page (1,001 objects)', async () => {
    const keys = Array.from({ length: 1001 }, (_, i) => `bronze/many/part-${String(i).padStart(4, '0')}.csv`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => lake.put(key, 'x')));
    }

    const listed = await lake.list('bronze/many/');

    expect(listed.map((o) => o.key)).toEqual(keys);
  });

  it('reports existence of objects only, not of folders', async () => {
    await lake.put('bronze/rides/a.csv', 'a');

    expect(await lake.exists('bronze/rides/a.csv')).toBe(true);
    expect(await lake.exists('bronze/rides/b.csv')).toBe(false);
    expect(await lake.exists('bronze/rides')).toBe(false);
  });

  it('deletes one object, and deleting a missing key or a folder is a no-op', async () => {
    await lake.put('bronze/rides/a.csv', 'a');
    await lake.put('bronze/rides/b.csv', 'b');

    await lake.delete('bronze/rides/a.csv');
    await lake.delete('bronze/rides/a.csv');
    await lake.delete('never/was.csv');
    await lake.delete('bronze/rides');

    expect(await lake.exists('bronze/rides/a.csv')).toBe(false);
    expect((await lake.list('')).map((o) => o.key)).toEqual(['bronze/rides/b.csv']);
  });

  it('throws NotFoundError naming the key and the lake for a missing object', async () => {
    await lake.put('bronze/rides/a.csv', 'a');

    for (const key of ['bronze/rides/missing.csv', 'bronze/rides']) {
      const error = await lake.get(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotFoundError);
      expect((error as Error).message).toContain(`"${key}"`);
      expect((error as Error).message).toContain(lake.url);
    }
  });

  it('copies a multi-MB file in and out, creating parent folders', async () => {
    const content = randomBytes(5 * 1024 * 1024 + 17);
    const source = path.join(scratch, 'source.bin');
    const target = path.join(scratch, 'out', 'nested', 'target.bin');
    await writeFile(source, content);

    await lake.putFile(source, 'bronze/big/part-0.bin');
    await lake.getFile('bronze/big/part-0.bin', target);

    expect(await lake.list('bronze/big/')).toEqual([{ key: 'bronze/big/part-0.bin', size: content.length }]);
    expect((await readFile(target)).equals(content)).toBe(true);
    expect(await tempFilesUnder(scratch)).toEqual([]);
  });

  it('getFile of a missing object throws NotFoundError and leaves no file behind', async () => {
    const target = path.join(scratch, 'out', 'missing.csv');

    await expect(lake.getFile('bronze/missing.csv', target)).rejects.toBeInstanceOf(NotFoundError);
    const leftovers = (await readdir(scratch, { recursive: true })).filter((name) => /\.csv|\.tmp-/.test(name));
    expect(leftovers).toEqual([]);
  });

  it('getFile replaces an existing local file', async () => {
    const target = path.join(scratch, 'target.csv');
    await writeFile(target, 'stale local content that is longer');
    await lake.put('a.csv', 'fresh');

    await lake.getFile('a.csv', target);

    expect(await readFile(target, 'utf8')).toBe('fresh');
  });

  it('keeps keys with =, spaces, and non-ASCII characters intact', async () => {
    const keys = [
      'bronze/rides/date=2024-01-01/part 0 (copy).csv',
      'bronze/rides/city=São Paulo/part+1.csv',
      'bronze/rides/date=2024-01-01/a&b=c;d.csv',
    ];
    for (const key of keys) await lake.put(key, key);

    expect((await lake.list('bronze/')).map((o) => o.key)).toEqual([...keys].sort());
    for (const key of keys) {
      expect((await lake.get(key)).toString()).toBe(key);
      expect(await lake.exists(key)).toBe(true);
    }
  });

  it('rejects keys that are empty, absolute, or walk out of the lake', async () => {
    for (const key of ['', '/etc/passwd', '../outside.csv', 'a/../../b', 'a//b', 'a/./b', 'a/', 'a\\b']) {
      await expect(lake.get(key), key).rejects.toBeInstanceOf(InputError);
      await expect(lake.put(key, 'x'), key).rejects.toBeInstanceOf(InputError);
    }
    await expect(lake.list('../')).rejects.toBeInstanceOf(InputError);
    await expect(lake.list('/bronze')).rejects.toBeInstanceOf(InputError);
  });
});
