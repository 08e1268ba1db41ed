import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Every temp-looking file under a folder, recursively (leftovers of atomic writes). */
export async function tempFilesUnder(folder: string): Promise<string[]> {
  const names = await readdir(folder, { recursive: true });
  return names.filter((name) => path.basename(name).includes('.tmp-'));
}
