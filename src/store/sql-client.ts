/**
 * The tiny seam between the SQL store and a database driver, in the spirit of Kysely's dialects:
 * the store owns every statement; a driver only knows how to send one and how to scope a
 * transaction. Anything richer would tempt drivers to grow their own SQL.
 *
 * Value conventions both drivers share: parameters are `$1, $2, ...`; JS arrays bind as SQL arrays
 * (cast them, e.g. `$2::text[]`); `timestamptz` comes back as a `Date`; `jsonb` as a parsed value.
 * `bigint` may come back as a number, a string (pg) or a BigInt (PGlite, above 2^53) and `date` as a
 * string or a `Date` depending on the driver, so the store converts those in its own SQL or mapping.
 */

/** Something that runs one parameterised statement: a connection pool or an open transaction. */
export interface SqlQueryable {
  /** Runs one statement and returns its rows (empty for statements without RETURNING). */
  query<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
}

/** A database handle owned by one store. */
export interface SqlClient extends SqlQueryable {
  /** Where the data lives, safe to print: `pglite:<folder>` or a postgres:// URL without password. */
  readonly description: string;
  /**
   * Runs `fn` inside BEGIN ... COMMIT on one connection; rolls back and rethrows when `fn` throws.
   * Statements must go through `tx`, not through this client, to be part of the transaction.
   */
  transaction<T>(fn: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /** Releases connections or files; the client is unusable afterwards. */
  close(): Promise<void>;
}

/** A json column's value: json columns come back parsed from one driver and as text from another. */
export function parsedJson<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}
