import { InputError } from '../errors.js';
import type { SqlClient } from './sql-client.js';

/** One forward step of the schema. Versions are consecutive and never edited once released. */
interface Migration {
  version: number;
  description: string;
  statements: string[];
}

/**
 * The schema, oldest first. Statements use IF NOT EXISTS so that a step re-applied over tables
 * created by hand (or before versioning) does not fail. To change the schema, append a migration.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'run store and ride anomalies',
    statements: [
      `CREATE TABLE IF NOT EXISTS detour_runs (
        id text PRIMARY KEY,
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        params jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        rows_read bigint,
        rows_quarantined bigint,
        outliers bigint,
        error text
      )`,
      `CREATE INDEX IF NOT EXISTS detour_runs_pipeline_logical_date_idx ON detour_runs (pipeline, logical_date)`,
      `CREATE TABLE IF NOT EXISTS ride_anomalies (
        logical_date date NOT NULL,
        ride_id text NOT NULL,
        taxi_id text NOT NULL,
        ride_dist_km double precision NOT NULL,
        ride_time_min double precision NOT NULL,
        label integer NOT NULL,
        score double precision NOT NULL,
        reason text NOT NULL,
        run_id text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (logical_date, ride_id)
      )`,
    ],
  },
  {
    version: 2,
    description: 'data-quality results per run',
    statements: [
      `CREATE TABLE IF NOT EXISTS quality_results (
        run_id text NOT NULL,
        position integer NOT NULL,
        dataset text NOT NULL,
        logical_date date NOT NULL,
        expectation text NOT NULL,
        type text NOT NULL,
        column_name text,
        severity text NOT NULL CHECK (severity IN ('warn', 'fail')),
        passed boolean NOT NULL,
        observed double precision,
        failing_rows bigint,
        sample jsonb NOT NULL,
        PRIMARY KEY (run_id, position)
      )`,
      `CREATE INDEX IF NOT EXISTS quality_results_dataset_logical_date_idx ON quality_results (dataset, logical_date)`,
    ],
  },
];

/** Arbitrary constant naming detour's migration lock among the database's advisory locks ("detour" in ASCII). */
const MIGRATION_LOCK_KEY = 0x6465746f7572;

/**
 * Brings the schema to the latest version in one transaction. The
 * transaction first takes an advisory lock, so processes opening the same database at once apply
 * the migrations one after the other instead of racing on CREATE TABLE (which can fail even with
 * IF NOT EXISTS). A database migrated by a newer detour is refused rather than misread.
 */
export async function migrate(client: SqlClient): Promise<void> {
  const latest = MIGRATIONS[MIGRATIONS.length - 1].version;
  await client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS detour_schema_version (
      version integer PRIMARY KEY,
      description text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const [{ current }] = await tx.query<{ current: number }>(
      'SELECT coalesce(max(version), 0)::integer AS current FROM detour_schema_version',
    );
    if (current > latest) {
      throw new InputError(
        `the database at ${client.description} has schema version ${current}, newer than this detour's ${latest}; upgrade detour`,
      );
    }
    for (const migration of MIGRATIONS.filter((m) => m.version > current)) {
      for (const statement of migration.statements) {
        await tx.query(statement);
      }
      await tx.query('INSERT INTO detour_schema_version (version, description) VALUES ($1, $2)', [
        migration.version,
        migration.description,
      ]);
    }
  });
}
