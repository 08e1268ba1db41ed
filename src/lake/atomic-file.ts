import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

const TEMP_NAME = /^\..+\.tmp-[0-9a-f]{12}$/;

/** Whether a file name is an in-flight (or abandoned) temp file of writeFileAtomically. */
export function isTempFileName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/**
 * Creates or replaces `target` so that concurrent readers see the old file or the new one,
 * never a partial one: `write` fills a temp file in the same folder (rename is only atomic
 * within one filesystem), which is then renamed over the target. Parent folders are created;
 * the temp file is removed when anything fails.
 */
export async function writeFileAtomically(
  target: string,
  write: (tempPath: string) => Promise<void>,
): Promise<void> {
  const folder = path.dirname(target);
  await mkdir(folder, { recursive: true });
  const tempPath = path.join(folder, `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await write(tempPath);
    await rename(tempPath, target);
  } catch (error) {
    await rm(tempPath, { force: true });
    throw error;
  }
}
