import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { ingestFile, type ManifestEntry } from '../../src/pipeline/index.js';

describe('ingest', () => {
  let dir: string;
  let lake: FsLake;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'detour-ingest-'));
    lake = new FsLake(path.join(dir, 'lake'));
  });

  it('lands a file unchanged with a manifest entry, and a second ingest is a no-op', async () => {
    const file = path.join(dir, 'rides.csv.gz');
    const bytes = gzipSync('ride_id,taxi_id\nR1,T1\n');
    await writeFile(file, bytes);
    const now = new Date('2024-01-02T03:04:05Z');
    const first = await ingestFile(lake, { dataset: 'rides', file, logicalDate: '2024-01-01', now });
    expect(first).toMatchObject({ key: 'bronze/rides/date=2024-01-01/rides.csv.gz', ingested: true });
    expect(await lake.get(first.key)).toEqual(bytes);
    const manifest = JSON.parse((await lake.get('bronze/rides/date=2024-01-01/_manifest.json')).toString()) as ManifestEntry[];
    expect(manifest).toEqual([{ file: 'rides.csv.gz', source: file, size: bytes.length, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), ingestedAt: now.toISOString() }]);

    const again = await ingestFile(lake, { dataset: 'rides', file, logicalDate: '2024-01-01' });
    expect(again.ingested).toBe(false);
    expect(again.entry.ingestedAt).toBe(now.toISOString());
  });

  it('refuses different content under the same name unless asked to replace', async () => {
    const file = path.join(dir, 'flights.parquet');
    await writeFile(file, 'version one');
    await ingestFile(lake, { dataset: 'flights', file, logicalDate: '2024-01-01' });
    await writeFile(file, 'version two');
    await expect(ingestFile(lake, { dataset: 'flights', file, logicalDate: '2024-01-01' })).rejects.toThrow(/already holds different content .* pass --replace/);
    const replaced = await ingestFile(lake, { dataset: 'flights', file, logicalDate: '2024-01-01', replace: true });
    expect(replaced.ingested).toBe(true);
    expect((await lake.get(replaced.key)).toString()).toBe('version two');
    const manifest = JSON.parse((await lake.get('bronze/flights/date=2024-01-01/_manifest.json')).toString()) as ManifestEntry[];
    expect(manifest).toHaveLength(1);
  });

  it.each<[{ file?: string; dataset?: string }, RegExp]>([
    [{ file: 'missing.csv' }, /file not found/],
    [{ file: '@notes.docx' }, /expected CSV, JSON lines or Parquet/],
    [{ dataset: 'Bad-Name' }, /must be lower_snake_case/],
  ])('rejects bad input: %o', async (override, message) => {
    await writeFile(path.join(dir, 'notes.docx'), 'x');
    await writeFile(path.join(dir, 'ok.csv'), 'a\n1\n');
    const file = override.file === undefined ? path.join(dir, 'ok.csv') : override.file.startsWith('@') ? path.join(dir, override.file.slice(1)) : path.join(dir, override.file);
    const attempt = ingestFile(lake, { dataset: override.dataset ?? 'rides', file, logicalDate: '2024-01-01' });
    await expect(attempt).rejects.toThrow(InputError);
    await expect(attempt).rejects.toThrow(message);
  });
});
