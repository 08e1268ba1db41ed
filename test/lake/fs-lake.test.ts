import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { tempFilesUnder } from '../helpers/temp-files.js';

describe('FsLake', () => {
  let scratch: string;

  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'detour-fs-lake-'));
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  it('names itself with the file URL of its absolute root', () => {
    expect(new FsLake('/data/lake').url).toBe('file:///data/lake');
    expect(new FsLake('lake').url).toBe(`file://${path.resolve('lake')}`);
  });

  it('stores each key as a file under the root, hive folders included, where localPath points', async () => {
    const lake = new FsLake(scratch);
    const key = 'bronze/rides/date=2024-01-01/part-0.csv';

    await lake.put(key, 'id,ts\n');

    expect(lake.localPath(key)).toBe(path.join(scratch, 'bronze', 'rides', 'date=2024-01-01', 'part-0.csv'));
    expect(await readFile(lake.localPath(key), 'utf8')).toBe('id,ts\n');
  });

  it('refuses a localPath for an invalid key rather than pointing outside the lake', () => {
    expect(() => new FsLake(scratch).localPath('../etc/passwd')).toThrow(InputError);
  });

  it('creates its root folder on the first write only', async () => {
    const root = path.join(scratch, 'not', 'yet');
    const lake = new FsLake(root);

    expect(await lake.list('')).toEqual([]);
    expect(await lake.exists('a.csv')).toBe(false);
    await lake.delete('a.csv');
    await expect(stat(root)).rejects.toMatchObject({ code: 'ENOENT' });

    await lake.put('a.csv', 'a');

    expect((await stat(root)).isDirectory()).toBe(true);
  });

  it('hides temp files left behind by an interrupted writer', async () => {
    const lake = new FsLake(scratch);
    await lake.put('bronze/part-0.csv', 'done');
    await writeFile(path.join(scratch, 'bronze', '.part-1.csv.tmp-0123456789ab'), 'half');

    expect(await lake.list('')).toEqual([{ key: 'bronze/part-0.csv', size: 4 }]);
  });

  it('lists regular files only, skipping folders that hold no files', async () => {
    const lake = new FsLake(scratch);
    await mkdir(path.join(scratch, 'bronze', 'empty'), { recursive: true });
    await lake.put('bronze/a.csv', 'a');

    expect(await lake.list('bronze/')).toEqual([{ key: 'bronze/a.csv', size: 1 }]);
  });

  describe('atomic writes', () => {
    let lake: FsLake;
    beforeEach(() => {
      lake = new FsLake(path.join(scratch, 'lake'));
    });

    // Not in the conformance suite: S3 guarantees it for a single PUT, but s3rver writes objects in
    // place (truncate, then stream), so against it a reader does see torn objects.
    it('shows a concurrent reader only complete versions during 50 overwrites', async () => {
      // Large enough that a non-atomic write (truncate, then write in chunks) is observable.
      const size = 256 * 1024;
      const version = (n: number) => Buffer.alloc(size, n);
      await lake.put('gold/outliers.bin', version(0));

      let writing = true;
      const seen = new Set<number>();
      const tornReadSizes: number[] = [];
      const reader = (async () => {
        while (writing) {
          const body = await lake.get('gold/outliers.bin');
          if (body.equals(version(body[0]))) seen.add(body[0]);
          else tornReadSizes.push(body.length);
        }
      })();
      for (let n = 1; n <= 50; n++) await lake.put('gold/outliers.bin', version(n));
      writing = false;
      await reader;

      expect(tornReadSizes).toEqual([]);
      expect(seen.size).toBeGreaterThan(1);
      expect(await lake.get('gold/outliers.bin')).toEqual(version(50));
    });

    it('leaves no temp files after puts, overwrites and failed copies', async () => {
      await lake.put('bronze/a.csv', 'a');
      await lake.put('bronze/a.csv', 'b');
      await lake.putFile(fileURLToPath(import.meta.url), 'bronze/self.ts');
      await expect(lake.putFile(path.join(scratch, 'no-such-file'), 'bronze/b.csv')).rejects.toThrow(/ENOENT/);

      expect(await tempFilesUnder(fileURLToPath(lake.url))).toEqual([]);
      expect((await lake.list('')).map((o) => o.key)).toEqual(['bronze/a.csv', 'bronze/self.ts']);
    });
  });
});
