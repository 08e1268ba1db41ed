import type { Dirent } from 'node:fs';
import { copyFile, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isTempFileName, writeFileAtomically } from './atomic-file.js';
import { assertKey, assertPrefix, compareKeys, objectNotFound } from './keys.js';
import type { Lake, LakeObject } from './lake.js';

/**
 * Error codes meaning "there is no object here": the path is absent, runs through a file
 * (`a.csv/b`), or is a folder, which on a key space of objects is no object either.
 */
const NO_OBJECT_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function isNoObject(error: unknown): boolean {
  return NO_OBJECT_CODES.has((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * A lake on a local folder: one file per object, keys mapped to sub-folders. Writes go through
 * a temp file and a rename, so readers never see a partial object. The folder is created on
 * the first write.
 */
export class FsLake implements Lake {
  /** `file://` URL of the absolute root folder, percent-encoded so that openLake can read it back. */
  readonly url: string;
  readonly #root: string;

  /** @param rootDir Root folder of the lake, resolved against the current directory when relative. */
  constructor(rootDir: string) {
    this.#root = path.resolve(rootDir);
    this.url = pathToFileURL(this.#root).href;
  }

  async list(prefix: string): Promise<LakeObject[]> {
    assertPrefix(prefix);
    // Start at the deepest folder the prefix names, so listing one partition reads one folder.
    const startFolder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const objects: LakeObject[] = [];
    await this.#collect(startFolder, prefix, objects);
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.#fsPath(assertKey(key)));
    } catch (error) {
      throw isNoObject(error) ? objectNotFound(key, this.url, error) : error;
    }
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    await writeFileAtomically(this.#fsPath(assertKey(key)), (tempPath) => writeFile(tempPath, body));
  }

  async putFile(localPath: string, key: string): Promise<void> {
    await writeFileAtomically(this.#fsPath(assertKey(key)), (tempPath) => copyFile(localPath, tempPath));
  }

  async getFile(key: string, localPath: string): Promise<void> {
    const source = this.#fsPath(assertKey(key));
    await writeFileAtomically(path.resolve(localPath), async (tempPath) => {
      try {
        await copyFile(source, tempPath);
      } catch (error) {
        throw isNoObject(error) ? objectNotFound(key, this.url, error) : error;
      }
    });
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.#fsPath(assertKey(key)))).isFile();
    } catch (error) {
      if (isNoObject(error)) return false;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.#fsPath(assertKey(key)));
    } catch (error) {
      if (!isNoObject(error)) throw error;
    }
  }

  localPath(key: string): string {
    return this.#fsPath(assertKey(key));
  }

  async close(): Promise<void> {
    // Nothing to release: every operation opens and closes its own file handles.
  }

  /** Absolute path of a key or folder key (`''` is the root). */
  #fsPath(key: string): string {
    return path.join(this.#root, ...key.split('/'));
  }

  /** Adds the regular files under `folder` (a folder key: `''` or ending in `/`) whose key starts with `prefix`. */
  async #collect(folder: string, prefix: string, into: LakeObject[]): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(this.#fsPath(folder), { withFileTypes: true });
    } catch (error) {
      if (isNoObject(error)) return;
      throw error;
    }
    await Promise.all(
      entries.map(async (entry) => {
        const key = folder + entry.name;
        if (!key.startsWith(prefix)) return;
        if (entry.isDirectory()) {
          await this.#collect(`${key}/`, prefix, into);
        } else if (entry.isFile() && !isTempFileName(entry.name)) {
          try {
            into.push({ key, size: (await stat(this.#fsPath(key))).size });
          } catch (error) {
            // Deleted between readdir and stat: it is simply no longer in the listing.
            if (!isNoObject(error)) throw error;
          }
        }
      }),
    );
  }
}
