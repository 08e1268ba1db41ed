import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Engine } from '../engine/index.js';
import { InputError } from '../errors.js';
import type { Lake, LakeObject } from '../lake/index.js';
import type { InputFile } from './context.js';
import { sha256OfFile } from './hashing.js';

/** Steps every pipeline shares around its input partition. */

/** Input objects of a partition, ignoring hidden and `_`-prefixed side files (manifests, markers); may be none. */
export async function inputObjects(lake: Lake, prefix: string): Promise<LakeObject[]> {
  return (await lake.list(prefix)).filter((object) => !/^[._]/.test(path.posix.basename(object.key)));
}

/** {@link inputObjects}, failing with a hint when there are none. */
export async function listInput(lake: Lake, prefix: string, sampleName: string): Promise<LakeObject[]> {
  const objects = await inputObjects(lake, prefix);
  if (objects.length === 0) {
    throw new InputError(`no input: ${prefix} is missing or empty in ${lake.url} (land files there with \`detour ingest\`, or run \`detour sample ${sampleName}\`)`);
  }
  return objects;
}

/** Each file's sha256, and one over all of them in key order: a date's input fingerprint. */
export async function fingerprintInputs(engine: Engine, lake: Lake, objects: LakeObject[]): Promise<{ files: InputFile[]; sha256: string }> {
  const localPaths = await engine.stage(lake, objects.map((object) => object.key));
  const files: InputFile[] = [];
  for (let i = 0; i < objects.length; i++) files.push({ key: objects[i].key, size: objects[i].size, sha256: await sha256OfFile(localPaths[i]) });
  const sha256 = createHash('sha256').update(files.map((file) => `${file.key}\n${file.sha256}\n`).join('')).digest('hex');
  return { files, sha256 };
}
