import path from 'node:path';
import { sqlIdentifier, sqlString, type Engine } from '../engine/index.js';
import { InputError } from '../errors.js';
import type { Lake, LakeObject } from '../lake/index.js';
import type { ValidationResult } from '../quality/index.js';

/** Steps every pipeline shares around its input partition. */

/** Input objects of a partition, ignoring hidden and `_`-prefixed side files (manifests, markers). */
export async function listInput(lake: Lake, prefix: string, sampleName: string): Promise<LakeObject[]> {
  const objects = (await lake.list(prefix)).filter((object) => !/^[._]/.test(path.posix.basename(object.key)));
  if (objects.length === 0) {
    throw new InputError(`no input: ${prefix} is missing or empty in ${lake.url} (land files there with \`detour ingest\`, or run \`detour sample ${sampleName}\`)`);
  }
  return objects;
}

/**
 * Writes the quarantined rows of one partition (an input folder such as `bronze/rides/date=D/`) to
 * `key`, or deletes `key` when there are none, so a clean rerun leaves no earlier rejects behind.
 */
export async function writeQuarantine(engine: Engine, lake: Lake, validation: ValidationResult, partition: string, key: string): Promise<string | null> {
  if ((validation.partitions[partition]?.rowsQuarantined ?? 0) === 0) {
    await lake.delete(key);
    return null;
  }
  await engine.exportQuery(
    `SELECT * EXCLUDE (_partition) FROM ${sqlIdentifier(validation.quarantineTable)} WHERE _partition = ${sqlString(partition)} ORDER BY _source_file, _source_row`,
    lake,
    key,
    'parquet',
  );
  return key;
}
