import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Server for tests needing real PostgreSQL; any database there works as the admin connection. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A throwaway database on the test server. */
export interface TestDatabase {
  /** Connection URL of the new database. */
  url: string;
  name: string;
  /** Drops the database, closing any connection still open on it. Call it in afterAll. */
  drop(): Promise<void>;
}

/**
 * Creates a fresh, uniquely named database on the server at TEST_DATABASE_URL so that tests, and
 * test files running in parallel, never see each other's tables. Fails with a hint when the
 * server is not running, rather than skipping: a silently skipped adapter hides regressions.
 */
export async function createTestDatabase(prefix = 'detour_test'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdminClient(async (admin) => {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    name,
    drop: () =>
      withAdminClient(async (admin) => {
        // WITH (FORCE) (PostgreSQL 13+) ends connections a failed test may have leaked.
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      }),
  };
}

async function withAdminClient(fn: (admin: pg.Client) => Promise<void>): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    const shown = new URL(TEST_DATABASE_URL);
    shown.password = '';
    throw new Error(
      `tests need PostgreSQL at TEST_DATABASE_URL (${shown.href}): ${(error as Error).message}; ` +
        'start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`',
      { cause: error },
    );
  }
  try {
    await fn(admin);
  } finally {
    await admin.end();
  }
}
