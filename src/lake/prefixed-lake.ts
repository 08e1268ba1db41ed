import { NotFoundError } from '../errors.js';
import { assertKey, assertPrefix, objectNotFound } from './keys.js';
import type { Lake, LakeObject } from './lake.js';

/**
 * A lake inside another lake's folder: every key `k` is the outer lake's `<prefix>k`, on either
 * adapter. An environment's lake is the deployment's lake under `envs/<env>/`. Closing it closes
 * the outer lake only when it was given to it (`closesOuter`).
 */
export class PrefixedLake implements Lake {
  readonly url: string;
  readonly #outer: Lake;
  readonly #prefix: string;
  readonly #closesOuter: boolean;

  /** @param prefix A folder of the outer lake, ending in `/`: `envs/staging/`. */
  constructor(outer: Lake, prefix: string, options: { closesOuter?: boolean } = {}) {
    this.#closesOuter = options.closesOuter ?? false;
    if (!prefix.endsWith('/')) throw new RangeError(`a lake prefix ends in "/", got "${prefix}"`);
    assertPrefix(prefix);
    this.#outer = outer;
    this.#prefix = prefix;
    this.url = `${outer.url.replace(/\/$/, '')}/${prefix.slice(0, -1)}`;
  }

  /** Throws InputError for an invalid key: inside the async methods, so that they reject as every adapter does. */
  #outerKey(key: string): string {
    return `${this.#prefix}${assertKey(key)}`;
  }

  async list(prefix: string): Promise<LakeObject[]> {
    const objects = await this.#outer.list(`${this.#prefix}${assertPrefix(prefix)}`);
    return objects.map((object) => ({ key: object.key.slice(this.#prefix.length), size: object.size }));
  }

  async get(key: string): Promise<Buffer> {
    return this.#named(key, this.#outer.get(this.#outerKey(key)));
  }

  async put(key: string, body: Buffer | string): Promise<void> {
    return this.#outer.put(this.#outerKey(key), body);
  }

  async putFile(localPath: string, key: string): Promise<void> {
    return this.#outer.putFile(localPath, this.#outerKey(key));
  }

  async getFile(key: string, localPath: string): Promise<void> {
    return this.#named(key, this.#outer.getFile(this.#outerKey(key), localPath));
  }

  /** A missing object is named by its key in this lake, as every adapter names it. */
  async #named<T>(key: string, reading: Promise<T>): Promise<T> {
    try {
      return await reading;
    } catch (error) {
      throw error instanceof NotFoundError ? objectNotFound(key, this.url, error) : error;
    }
  }

  async exists(key: string): Promise<boolean> {
    return this.#outer.exists(this.#outerKey(key));
  }

  async delete(key: string): Promise<void> {
    return this.#outer.delete(this.#outerKey(key));
  }

  localPath(key: string): string | undefined {
    return this.#outer.localPath(this.#outerKey(key));
  }

  async close(): Promise<void> {
    if (this.#closesOuter) await this.#outer.close();
  }
}
