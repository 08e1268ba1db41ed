import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { FsLake } from './fs-lake.js';
import type { Lake } from './lake.js';
import { envPrefix } from './layout.js';
import { PrefixedLake } from './prefixed-lake.js';
import { S3Lake } from './s3-lake.js';

export type { Lake, LakeObject } from './lake.js';
export { aggregateKey, checkpointKey, checkpointPrefix, dateKeys, envOfKey, envPrefix, ENVS_PREFIX, errorTextKey, findingsKey, landedPartitionOf, listPartitionFiles, modelArtifactKey, partitionPrefix, quarantineKey, runScratchPrefix, silverKey, trainingSummaryKey } from './layout.js';
export type { CheckpointStream, DateKeys, PipelineTables, Zone } from './layout.js';
export { FsLake } from './fs-lake.js';
export { writeFileAtomically } from './atomic-file.js';
export { S3Lake, type S3LakeOptions } from './s3-lake.js';
export { PrefixedLake } from './prefixed-lake.js';

/**
 * The lake of an environment within a deployment's lake: the lake itself for the default
 * environment (`env` undefined: keys as they have always been), its `envs/<env>/` folder for any
 * other. With `closesOuter`, closing the environment's lake closes the deployment's.
 */
export function envLake(lake: Lake, env: string | undefined, options: { closesOuter?: boolean } = {}): Lake {
  return env === undefined ? lake : new PrefixedLake(lake, envPrefix(env), options);
}

function unsupportedUrl(url: string, cause?: unknown): InputError {
  return new InputError(
    `unsupported lake URL "${url}"; use file:///abs/path, file://./relative/path, a plain path, or s3://bucket[/prefix]`,
    { cause },
  );
}

/**
 * Opens the lake a URL names:
 * - `s3://bucket[/prefix]`: an S3Lake configured from the AWS_* environment variables;
 * - `file:///abs/path` (percent-encoded like any file URL) or `file://./relative`, `file://../relative`
 *   (taken literally);
 * - a plain path such as `./lake` or `/data/lake`.
 * Relative paths are resolved against `baseDir`, by default the current directory.
 *
 * @throws InputError for any other scheme or an empty URL, listing the accepted forms.
 */
export function openLake(url: string, options: { baseDir?: string } = {}): Lake {
  const baseDir = options.baseDir ?? process.cwd();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 's3') return new S3Lake(url);
  if (scheme === 'file') {
    // `file://./lake` is no valid URL (its host would be "."), but it is how people write a relative lake.
    const location = url.slice('file://'.length);
    if (location === '') throw unsupportedUrl(url);
    if (location.startsWith('.')) return new FsLake(path.resolve(baseDir, location));
    try {
      return new FsLake(fileURLToPath(url));
    } catch (error) {
      throw unsupportedUrl(url, error);
    }
  }
  if (scheme === undefined && url.trim() !== '') return new FsLake(path.resolve(baseDir, url));
  throw unsupportedUrl(url);
}
