import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { FsLake, openLake, S3Lake } from '../../src/lake/index.js';

const baseDir = '/srv/detour';

describe('openLake', () => {
  it.each([
    { url: 'file://./lake', kind: FsLake, expected: 'file:///srv/detour/lake' },
    { url: 'file://../lake', kind: FsLake, expected: 'file:///srv/lake' },
    { url: 'file:///data/lake', kind: FsLake, expected: 'file:///data/lake' },
    { url: 'file:///data/lake/', kind: FsLake, expected: 'file:///data/lake' },
    { url: 'file://localhost/data/lake', kind: FsLake, expected: 'file:///data/lake' },
    { url: 'file:///data/my%20lake', kind: FsLake, expected: 'file:///data/my%20lake' },
    { url: './lake', kind: FsLake, expected: 'file:///srv/detour/lake' },
    { url: 'lake', kind: FsLake, expected: 'file:///srv/detour/lake' },
    { url: '../shared/lake', kind: FsLake, expected: 'file:///srv/shared/lake' },
    { url: '/data/lake', kind: FsLake, expected: 'file:///data/lake' },
    { url: '/data/my lake', kind: FsLake, expected: 'file:///data/my%20lake' },
    { url: 's3://rides-lake', kind: S3Lake, expected: 's3://rides-lake' },
    { url: 's3://rides-lake/', kind: S3Lake, expected: 's3://rides-lake' },
    { url: 's3://rides-lake/prod', kind: S3Lake, expected: 's3://rides-lake/prod' },
    { url: 's3://rides-lake/prod/v2/', kind: S3Lake, expected: 's3://rides-lake/prod/v2' },
  ])('opens $url as $expected', async ({ url, kind, expected }) => {
    const lake = openLake(url, { baseDir });

    expect(lake).toBeInstanceOf(kind);
    expect(lake.url).toBe(expected);
    await lake.close();
  });

  it('decodes file URLs into the folder objects are stored in', () => {
    expect(openLake('file:///data/my%20lake').localPath('a/b.csv')).toBe('/data/my lake/a/b.csv');
  });

  it('takes the relative form of file URLs literally, not percent-decoded', () => {
    expect(openLake('file://./my%20lake', { baseDir }).localPath('a.csv')).toBe('/srv/detour/my%20lake/a.csv');
  });

  it('resolves relative paths against the current directory by default', () => {
    expect(openLake('./lake').url).toBe(`file://${path.join(process.cwd(), 'lake')}`);
  });

  it.each(['', '   ', 'http://example.com/lake', 'gs://bucket/lake', 'file://', 'file://otherhost/lake'])(
    'rejects %j with one line listing the accepted forms',
    (url) => {
      const open = () => openLake(url, { baseDir });

      expect(open).toThrow(InputError);
      expect(open).toThrow(
        `unsupported lake URL "${url}"; use file:///abs/path, file://./relative/path, a plain path, or s3://bucket[/prefix]`,
      );
    },
  );

  it.each([
    { url: 's3://', reason: /invalid S3 bucket name ""/ },
    { url: 's3:///prefix', reason: /invalid S3 bucket name ""/ },
    { url: 's3://Rides_Lake', reason: /invalid S3 bucket name "Rides_Lake"/ },
    { url: 's3://rides-lake/a//b', reason: 'invalid prefix "a//b" in "s3://rides-lake/a//b"' },
    { url: 's3://rides-lake/../other', reason: 'invalid prefix "../other" in "s3://rides-lake/../other"' },
  ])('rejects the malformed S3 URL $url', ({ url, reason }) => {
    expect(() => openLake(url)).toThrow(InputError);
    expect(() => openLake(url)).toThrow(reason);
  });
});
