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
  {
    version: 3,
    description: 'step graphs, range runs, schedule claims, generic ride anomalies',
    statements: [
      `ALTER TABLE detour_runs ADD COLUMN IF NOT EXISTS end_date date`,
      `UPDATE detour_runs SET end_date = logical_date WHERE end_date IS NULL`,
      `ALTER TABLE detour_runs ALTER COLUMN end_date SET NOT NULL`,
      // output is json, not jsonb: jsonb reorders keys, and summaries built from outputs should read as written.
      `CREATE TABLE IF NOT EXISTS detour_steps (
        run_id text NOT NULL,
        step text NOT NULL,
        partition text NOT NULL,
        position integer NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
        attempts integer NOT NULL DEFAULT 0,
        started_at timestamptz,
        finished_at timestamptz,
        seconds double precision,
        output json,
        error text,
        worker text,
        PRIMARY KEY (run_id, step, partition)
      )`,
      `CREATE TABLE IF NOT EXISTS detour_schedule_claims (
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        tick_at timestamptz NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (pipeline, logical_date)
      )`,
      // A run now covers several dates, so a report is kept per run and date.
      `ALTER TABLE quality_results DROP CONSTRAINT IF EXISTS quality_results_pkey`,
      `ALTER TABLE quality_results ADD PRIMARY KEY (run_id, logical_date, position)`,
      // Rides now publish like every pipeline (generic anomalies table with the ride's fields as
      // attributes); the old table is kept, renamed, rather than dropped.
      `ALTER TABLE IF EXISTS ride_anomalies RENAME TO ride_anomalies_v1`,
    ],
  },
  {
    version: 4,
    description: 'step partitions as data',
    statements: [`ALTER TABLE detour_steps ADD COLUMN IF NOT EXISTS spec json`],
  },
  {
    version: 5,
    description: 'leases on running runs and steps',
    statements: [
      `ALTER TABLE detour_runs ADD COLUMN IF NOT EXISTS lease_owner text`,
      `ALTER TABLE detour_runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz`,
      `ALTER TABLE detour_runs ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz`,
      `ALTER TABLE detour_steps ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz`,
      `ALTER TABLE detour_steps ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz`,
      // Runs and steps left running by a detour without leases have nobody to renew them: they
      // expire at the first use of the store, as a dead coordinator's would.
      `UPDATE detour_runs SET lease_expires_at = now() WHERE status = 'running' AND lease_expires_at IS NULL`,
      `UPDATE detour_steps SET lease_expires_at = now() WHERE status = 'running' AND lease_expires_at IS NULL`,
      // Expiry checks run on every use of the store: they only ever look at running rows.
      `CREATE INDEX IF NOT EXISTS detour_runs_lease_expires_at_idx ON detour_runs (lease_expires_at) WHERE status = 'running'`,
      `CREATE INDEX IF NOT EXISTS detour_steps_lease_expires_at_idx ON detour_steps (lease_expires_at) WHERE status = 'running'`,
    ],
  },
  {
    // Touches no table of another migration, so it applies the same before or after version 5.
    version: 6,
    description: 'model registry: versions, stages and their history',
    statements: [
      // A row is reserved (registered_at null, invisible) before its artifact is written, and
      // registered once artifact and metrics are known: a version is visible only when both exist.
      `CREATE TABLE IF NOT EXISTS detour_models (
        name text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        detector text NOT NULL,
        entity text NOT NULL,
        params jsonb NOT NULL,
        window_from date NOT NULL,
        window_to date NOT NULL,
        inputs jsonb NOT NULL,
        metrics json,
        artifact_key text,
        artifact_sha256 text,
        artifact_bytes bigint,
        detour_version text NOT NULL,
        training_run_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        registered_at timestamptz,
        stage text NOT NULL DEFAULT 'candidate' CHECK (stage IN ('candidate', 'production', 'archived')),
        promoted_at timestamptz,
        previous_production integer,
        PRIMARY KEY (name, version),
        UNIQUE (training_run_id, name)
      )`,
      `CREATE UNIQUE INDEX IF NOT EXISTS detour_models_one_production_idx ON detour_models (name) WHERE stage = 'production'`,
      `CREATE TABLE IF NOT EXISTS detour_model_stages (
        name text NOT NULL,
        seq integer NOT NULL,
        version integer NOT NULL,
        stage text NOT NULL CHECK (stage IN ('candidate', 'production', 'archived')),
        reason text NOT NULL,
        changed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, seq)
      )`,
    ],
  },
  {
    // 8, not 7: a branch adding environments was given 7 at the same time; each stands on its own.
    version: 8,
    description: 'monitoring: performance against ground truth, drift, anomaly feedback, alarms',
    statements: [
      `CREATE TABLE IF NOT EXISTS detour_monitor_performance (
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        model text NOT NULL,
        model_version integer NOT NULL,
        predictions bigint NOT NULL,
        matched bigint NOT NULL,
        positives bigint NOT NULL,
        auc double precision,
        log_loss double precision,
        brier double precision,
        calibration jsonb NOT NULL,
        run_id text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (pipeline, logical_date, model, model_version)
      )`,
      `CREATE TABLE IF NOT EXISTS detour_monitor_drift (
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        model text NOT NULL,
        model_version integer NOT NULL,
        feature text NOT NULL,
        window_days integer NOT NULL,
        rows bigint NOT NULL,
        constant boolean NOT NULL,
        psi double precision,
        ks double precision,
        run_id text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (pipeline, logical_date, model, model_version, feature)
      )`,
      `CREATE TABLE IF NOT EXISTS detour_monitor_days (
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        actuals bigint NOT NULL,
        unmatched_actuals bigint NOT NULL,
        flagged bigint NOT NULL,
        true_positives bigint NOT NULL,
        false_positives bigint NOT NULL,
        false_negatives bigint NOT NULL,
        run_id text NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (pipeline, logical_date)
      )`,
      `CREATE TABLE IF NOT EXISTS detour_feedback (
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        anomaly_id text NOT NULL,
        verdict text NOT NULL CHECK (verdict IN ('true_positive', 'false_positive', 'false_negative')),
        note text,
        recorded_by text,
        recorded_at timestamptz NOT NULL,
        PRIMARY KEY (pipeline, logical_date, anomaly_id)
      )`,
      `CREATE TABLE IF NOT EXISTS detour_alarms (
        pipeline text NOT NULL,
        alarm text NOT NULL,
        state text NOT NULL CHECK (state IN ('firing', 'resolved')),
        message text NOT NULL,
        logical_date date,
        changed_at timestamptz NOT NULL,
        PRIMARY KEY (pipeline, alarm)
      )`,
    ],
  },
  {
    version: 9,
    description: 'monitoring: forecast accuracy (MAE, MAPE) of series detectors per day',
    statements: [
      // No primary key: model and model_version are null for detectors that fit the run's data, and a date's rows are replaced whole.
      `CREATE TABLE IF NOT EXISTS detour_monitor_forecasts (
        pipeline text NOT NULL,
        logical_date date NOT NULL,
        detector text NOT NULL,
        model text,
        model_version integer,
        points bigint NOT NULL,
        mae double precision NOT NULL,
        mape_points bigint NOT NULL,
        mape double precision,
        run_id text NOT NULL,
        updated_at timestamptz NOT NULL
      )`,
      'CREATE INDEX IF NOT EXISTS detour_monitor_forecasts_date ON detour_monitor_forecasts (pipeline, logical_date)',
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
    const applied = new Set((await tx.query<{ version: number }>('SELECT version FROM detour_schema_version')).map((row) => row.version));
    const current = Math.max(0, ...applied);
    if (current > latest) {
      throw new InputError(
        `the database at ${client.description} has schema version ${current}, newer than this detour's ${latest}; upgrade detour`,
      );
    }
    // Every version not applied yet, not only those above the newest: branches developed side by
    // side may add versions out of order (6 before 5), and each one stands on its own.
    for (const migration of MIGRATIONS.filter((m) => !applied.has(m.version))) {
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
