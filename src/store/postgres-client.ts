import pg from 'pg';
import { InputError, TransientError, UnavailableError, oneLine } from '../errors.js';
import { ServiceOutages, type OutageOptions } from '../outage.js';
import type { SqlClient, SqlQueryable } from './sql-client.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** Where a connection string points, for messages: never includes the password. */
interface PostgresTarget {
  /** `host:port`, the part a user checks first when the server cannot be reached. */
  address: string;
  /** `postgres://user@host:port/db?...` without the password. */
  redactedUrl: string;
}

/**
 * Opens a pool on the PostgreSQL server named by a `postgres://` or `postgresql://` URL and checks
 * that it answers. A malformed URL or a refused login is an InputError in one line naming
 * host:port, without the password.
 *
 * While the server is unreachable (not listening, restarting, connection lost), opening and every
 * statement or transaction wait for it, retrying, for at most `options.outageWaitMs` (telling
 * `options.onOutage` once per outage), then fail with an UnavailableError. Other errors worth a
 * retry (deadlock, serialization failure, too many connections) become TransientError; the
 * rest are passed through.
 */
export async function openPostgresClient(connectionString: string, options: PostgresClientOptions = {}): Promise<SqlClient> {
  const target = parsePostgresUrl(connectionString);
  const { schema } = options;
  // Every connection's search_path is the schema alone, so unqualified names never reach another schema's tables.
  const pool = new pg.Pool({ connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, ...(schema === undefined ? {} : { options: `-c search_path=${quotedName(schema)}` }) });
  // An idle connection dropped by the server emits 'error' on the pool, which would crash the
  // process if unhandled; the pool has already discarded that connection and reconnects on demand.
  pool.on('error', () => {});
  const outages = new ServiceOutages('PostgreSQL', target.address, 'check that it runs and that DATABASE_URL points at it', options);
  // A statement that failed because the server was unreachable is sent again once it answers;
  // a transaction is run again whole (the server rolled back what it had of it).
  const whileReachable = <T>(attempt: () => Promise<T>) => outages.retry(attempt, isUnreachable);
  try {
    await whileReachable(() => pool.query('SELECT 1'));
    if (schema !== undefined) await whileReachable(() => createSchema(pool, schema));
  } catch (error) {
    await pool.end();
    if (error instanceof UnavailableError) throw error;
    throw new InputError(`cannot connect to PostgreSQL at ${target.address}: ${oneLine(error)}`, { cause: error });
  }

  const translate = (error: unknown): unknown => (isTransient(error) ? new TransientError(`PostgreSQL at ${target.address}: ${oneLine(error)}`, { cause: error }) : error);
  const queryOn = (runner: pg.Pool | pg.PoolClient): SqlQueryable['query'] =>
    async <T>(sql: string, params?: readonly unknown[]) => {
      // pg only reads the parameter array; the copy satisfies its mutable `any[]` signature.
      const result = await runner.query(sql, params ? [...params] : undefined);
      return result.rows as T[];
    };

  return {
    description: schema === undefined ? target.redactedUrl : `${target.redactedUrl} (schema ${schema})`,
    query: async (sql, params) => {
      try {
        return await whileReachable(() => queryOn(pool)(sql, params));
      } catch (error) {
        throw translate(error);
      }
    },
    transaction: async (fn) => {
      try {
        return await whileReachable(() => inTransaction(pool, queryOn, fn));
      } catch (error) {
        throw translate(error);
      }
    },
    close: () => pool.end(),
  };
}

export interface PostgresClientOptions extends OutageOptions {
  /** A lower_snake schema holding every table (created when missing); unset: the server's default search_path. */
  schema?: string;
}

/** A schema or table name as SQL, after checking it is one of the lower_snake names detour makes. */
export function quotedName(name: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new InputError(`"${name}" is not a lower_snake name`);
  return `"${name}"`;
}

/** CREATE SCHEMA IF NOT EXISTS, where another process creating it at the same moment is no error. */
async function createSchema(pool: pg.Pool, schema: string): Promise<void> {
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quotedName(schema)}`);
  } catch (error) {
    // 23505: the concurrent creator won the race on pg_namespace's unique name.
    if ((error as { code?: unknown }).code !== '23505') throw error;
  }
}

/** Runs `fn` inside BEGIN ... COMMIT on one pooled connection. */
async function inTransaction<T>(pool: pg.Pool, queryOn: (runner: pg.PoolClient) => SqlQueryable['query'], fn: (tx: SqlQueryable) => Promise<T>): Promise<T> {
  const connection = await pool.connect();
  const tx = { query: queryOn(connection) };
  // A connection whose ROLLBACK failed is in an unknown state: handing the error to release()
  // destroys it instead of returning it to the pool.
  let broken: Error | undefined;
  try {
    await tx.query('BEGIN');
    const result = await fn(tx);
    await tx.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await connection.query('ROLLBACK');
    } catch (rollbackError) {
      broken = rollbackError as Error;
    }
    throw error;
  } finally {
    connection.release(broken);
  }
}

/**
 * Validates a PostgreSQL URL and describes it without its password. Throws InputError for other
 * schemes or unparsable URLs, quoting nothing of the URL since it may hold a password.
 */
export function parsePostgresUrl(connectionString: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new InputError('the database URL is not a valid URL; expected postgres://user@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new InputError(`the database URL has scheme "${url.protocol}"; expected postgres:// or postgresql://`);
  }
  // An empty host means a Unix socket, given as ?host=/path or left to libpq-style defaults.
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  const port = url.port || url.searchParams.get('port') || '5432';
  const redacted = new URL(url.href);
  redacted.password = '';
  for (const secret of ['password', 'sslpassword', 'sslkey']) {
    if (redacted.searchParams.has(secret)) redacted.searchParams.set(secret, '***');
  }
  return { address: `${host}:${port}`, redactedUrl: redacted.href };
}

/** Node socket errors and SQLSTATEs of a server that is not there (yet, or any more): waited for. */
const UNREACHABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
]);

/** SQLSTATEs after which the same statement may well succeed on a server that is there. */
const TRANSIENT_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '55P03', // lock_not_available
]);

function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return UNREACHABLE_CODES.has(code) || code.startsWith('08'); // 08: connection exception
  // pg reports a connection dropped (mid-query, or before a query on it), or one not made within
  // the connect timeout, without a code.
  return /Connection terminated|connection error and is not queryable|timeout expired|timeout exceeded when trying to connect/i.test(error.message);
}

function isTransient(error: unknown): boolean {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}
