/** One object in the lake. Keys are relative to the lake root and use `/`, e.g. `bronze/rides/date=2024-01-01/part-0.csv`. */
export interface LakeObject {
  key: string;
  size: number;
}

/**
 * A data lake: a flat key space of immutable-until-replaced objects, on a local folder or an
 * S3-compatible bucket. Every write is atomic: readers see the old object or the new one, never
 * a partial one.
 */
export interface Lake {
  /** Canonical URL of the lake root, e.g. `file:///abs/lake` or `s3://bucket/prefix`. */
  readonly url: string;
  /** Objects whose key starts with `prefix`, recursively, sorted by key. Empty when none. */
  list(prefix: string): Promise<LakeObject[]>;
  /** Whole object. Throws NotFoundError when the key does not exist. */
  get(key: string): Promise<Buffer>;
  /** Writes an object atomically (temp key then rename, or a single PUT). */
  put(key: string, body: Buffer | string): Promise<void>;
  /** Copies a local file into the lake atomically. */
  putFile(localPath: string, key: string): Promise<void>;
  /** Copies an object to a local file (parent folders created). Throws NotFoundError when missing. */
  getFile(key: string, localPath: string): Promise<void>;
  /** Whether an object exists. */
  exists(key: string): Promise<boolean>;
  /** Deletes one object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Absolute local path of the object when the lake lives on the local filesystem, so that
   * readers such as DuckDB can open it in place; undefined for remote lakes.
   */
  localPath(key: string): string | undefined;
  /** Releases clients and sockets. */
  close(): Promise<void>;
}
