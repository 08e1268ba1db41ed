import { stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError, NotFoundError } from '../errors.js';
import { partitionPrefix, type Lake } from '../lake/index.js';
import { sha256OfFile } from './hashing.js';

/** One landed file, as listed in a partition's `_manifest.json`. */
export interface ManifestEntry {
  /** Object name inside the partition. */
  file: string;
  /** Where it came from (absolute path). */
  source: string;
  size: number;
  sha256: string;
  ingestedAt: string;
}

export interface IngestResult {
  key: string;
  entry: ManifestEntry;
  /** False when the same bytes were already there: ingesting twice is a no-op. */
  ingested: boolean;
}

const MANIFEST = '_manifest.json';
const RAW_FILE = /\.(csv|tsv|txt|json|jsonl|ndjson|parquet)(\.gz|\.zst)?$/i;

async function readManifest(lake: Lake, key: string): Promise<ManifestEntry[]> {
  try {
    return JSON.parse((await lake.get(key)).toString()) as ManifestEntry[];
  } catch (error) {
    if (error instanceof NotFoundError) return [];
    throw error;
  }
}

/**
 * Lands a raw file unchanged in `bronze/<dataset>/date=D/` and records it in the partition's
 * `_manifest.json` (source, size, sha256, time). The same bytes again are a no-op; different
 * bytes under an existing name are refused unless `replace` is set.
 */
export async function ingestFile(
  lake: Lake,
  options: { dataset: string; file: string; logicalDate: string; replace?: boolean; now?: Date },
): Promise<IngestResult> {
  if (!/^[a-z][a-z0-9_]*$/.test(options.dataset)) throw new InputError(`dataset "${options.dataset}" must be lower_snake_case`);
  const source = path.resolve(options.file);
  const info = await stat(source).catch((error: unknown) => {
    throw new InputError(`--file ${options.file}: file not found`, { cause: error });
  });
  if (!info.isFile()) throw new InputError(`--file ${options.file} is not a file`);
  const name = path.basename(source);
  if (!RAW_FILE.test(name)) throw new InputError(`--file ${name}: expected CSV, JSON lines or Parquet (optionally .gz)`);

  const prefix = partitionPrefix('bronze', options.dataset, options.logicalDate);
  const key = `${prefix}${name}`;
  const manifestKey = `${prefix}${MANIFEST}`;
  const sha256 = await sha256OfFile(source);
  const manifest = await readManifest(lake, manifestKey);
  const existing = manifest.find((entry) => entry.file === name);
  if (existing && existing.sha256 === sha256 && (await lake.exists(key))) return { key, entry: existing, ingested: false };
  if (existing && existing.sha256 !== sha256 && !options.replace) {
    throw new InputError(`${key} already holds different content (sha256 ${existing.sha256.slice(0, 12)}…); pass --replace to overwrite it`);
  }
  const entry: ManifestEntry = { file: name, source, size: info.size, sha256, ingestedAt: (options.now ?? new Date()).toISOString() };
  await lake.putFile(source, key);
  // The manifest is written after the data, so an entry never names a file that is not there.
  const entries = [...manifest.filter((other) => other.file !== name), entry].sort((a, b) => a.file.localeCompare(b.file));
  await lake.put(manifestKey, `${JSON.stringify(entries, null, 2)}\n`);
  return { key, entry, ingested: true };
}
