import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { InputError, oneLine } from '../errors.js';
import { lockFolder } from './dir-lock.js';
import type { SqlClient, SqlQueryable } from './sql-client.js';

/**
 * Opens (creating if needed, parent folders included) an embedded PGlite database persisted in
 * `dataDir`. PGlite runs Postgres in this process, so the folder is locked for the lifetime of the
 * client: a second opener, here or in another process, gets a TransientError instead of
 * corrupting the data. A folder that PGlite cannot open is an InputError.
 */
export async function openPgliteClient(dataDir: string): Promise<SqlClient> {
  await mkdir(dataDir, { recursive: true });
  const lock = await lockFolder(dataDir, 'the PGlite database');
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
  } catch (error) {
    await lock.release();
    throw new InputError(`cannot open the PGlite database at ${dataDir}: ${oneLine(error)}`, { cause: error });
  }
  return {
    description: `pglite:${dataDir}`,
    query: (sql, params) => queryRows(db, sql, params),
    transaction: (fn) => db.transaction((tx) => fn({ query: (sql, params) => queryRows(tx, sql, params) })),
    close: async () => {
      try {
        await db.close();
      } finally {
        await lock.release();
      }
    },
  };
}

/** PGlite's `db` and its transactions share `query`; this adapts either to {@link SqlQueryable}. */
async function queryRows<T>(
  target: Pick<PGlite, 'query'>,
  sql: string,
  params: readonly unknown[] | undefined,
): Promise<T[]> {
  // PGlite only reads the parameter array; the copy satisfies its mutable `any[]` signature.
  const result = await target.query<T>(sql, params ? [...params] : undefined);
  return result.rows;
}
