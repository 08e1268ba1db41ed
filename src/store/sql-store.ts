import { isIsoDate } from '../dates.js';
import { randomBytes } from 'node:crypto';
import { InputError, NotFoundError, printableLine } from '../errors.js';
import { migrate } from './migrations.js';
import { parsedJson, type SqlClient, type SqlQueryable } from './sql-client.js';
import { createPredictionsTable, predictionsTable, replaceDatePredictions, selectPredictions } from './predictions.js';
import * as registry from './model-registry.js';
import * as monitoring from './monitoring.js';
import { LeaseLostError, type AlarmState, type Feedback, type MonitorReport, type AnomalyQuery, type AnomalyRow, type DatasetQualityRow, type DatedAnomalies, type DatedQualityResults, type Lease, type ListModelsOptions, type ListRunsOptions, type ModelRef, type ModelRegistration, type NewModelVersion, type NewRun, type PlannedStep, type PredictionRow, type QualityResultRow, type RunOutcome, type RunRecord, type RunStatus, type StepRecord, type StepStatus, type StepUpdate, type StoredAnomaly, type StoredPrediction, type Store } from './store.js';

/**
 * Rows per upsert statement. Rows travel as one array per column (8 parameters whatever the
 * count), so the 65535-parameter limit never applies; batches only bound the size of one message.
 */
const UPSERT_BATCH_ROWS = 5_000;

/** Ids hold a random part; a collision is retried with a fresh id this many times. */
const RUN_ID_ATTEMPTS = 3;

/** How many of the matching ids an ambiguous-prefix error shows. */
const AMBIGUOUS_EXAMPLES = 3;

/**
 * Dates are selected with to_char because drivers disagree on `date` (pg makes a local-time
 * Date, PGlite a UTC one) and `::text` would follow the session's DateStyle.
 */
const RUN_COLUMNS = `id, pipeline, to_char(logical_date, 'YYYY-MM-DD') AS logical_date,
  to_char(end_date, 'YYYY-MM-DD') AS end_date, params, status,
  started_at, finished_at, rows_read, rows_quarantined, outliers, error, lease_owner, heartbeat_at, lease_expires_at`;

/** A lease's end `$n` seconds from now, by the database's clock: every process compares leases against the same clock. */
const leaseEnd = (parameter: number) => `now() + make_interval(secs => $${parameter}::double precision)`;

/** A heartbeat column as the reasons of expired leases show it. */
const heartbeatText = (column: string) => `coalesce(to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'an unknown time')`;

/** The error of a run failed by its expired lease (format(): owner, last heartbeat, id). */
const RUN_LEASE_EXPIRED = 'coordinator %s stopped heartbeating at %s; resume it with `detour runs resume %s`';

/** The error of a step failed by its expired lease (format(): worker, last heartbeat). */
const STEP_LEASE_EXPIRED = 'worker %s stopped heartbeating at %s';

/** A `bigint` column as the drivers return it: number, string or BigInt. */
type BigintValue = number | string | bigint;

interface RunRow {
  id: string;
  pipeline: string;
  logical_date: string;
  end_date: string;
  params: Record<string, unknown>;
  status: RunStatus;
  started_at: Date;
  finished_at: Date | null;
  rows_read: BigintValue | null;
  rows_quarantined: BigintValue | null;
  outliers: BigintValue | null;
  error: string | null;
  lease_owner: string | null;
  heartbeat_at: Date | null;
  lease_expires_at: Date | null;
}

/**
 * Migrates the database behind `client` to the latest schema and returns a {@link Store} over it.
 * The store owns the client: closing the store closes it.
 */
export async function openSqlStore(client: SqlClient): Promise<Store> {
  await migrate(client);
  return new SqlStore(client);
}

/** The {@link Store} in plain PostgreSQL, the same statements for every driver. */
class SqlStore implements Store {
  readonly description: string;
  private closing: Promise<void> | undefined;

  constructor(private readonly client: SqlClient) {
    this.description = client.description;
  }

  async startRun(run: NewRun): Promise<RunRecord> {
    requireText(run.pipeline, 'pipeline');
    requireIsoDate(run.logicalDate);
    const endDate = run.endDate ?? run.logicalDate;
    requireIsoDate(endDate);
    if (endDate < run.logicalDate) throw new InputError(`a run cannot end (${endDate}) before it starts (${run.logicalDate})`);
    const params = toJson(run.params);
    requireLease(run.lease);
    await this.expireLeases();
    for (let attempt = 0; attempt < RUN_ID_ATTEMPTS; attempt++) {
      const startedAt = new Date();
      const rows = await this.client.query<RunRow>(
        `INSERT INTO detour_runs (id, pipeline, logical_date, end_date, params, status, started_at, lease_owner, heartbeat_at, lease_expires_at)
         VALUES ($1, $2, $3::date, $4::date, $5::text::jsonb, 'running', $6, $7, now(), ${leaseEnd(8)})
         ON CONFLICT (id) DO NOTHING
         RETURNING ${RUN_COLUMNS}`,
        [newRunId(startedAt), run.pipeline, run.logicalDate, endDate, params, startedAt, run.lease.owner, run.lease.seconds],
      );
      if (rows.length > 0) return toRunRecord(rows[0]);
    }
    throw new Error(`no unique run id after ${RUN_ID_ATTEMPTS} attempts`);
  }

  /**
   * Only a run in status `running` can be finished; finishing it again is an InputError, since it
   * would overwrite the recorded outcome. With `outcome.owner`, a run whose lease that owner lost
   * (failed when it expired, or resumed by another process) is a LeaseLostError instead.
   */
  async finishRun(id: string, outcome: RunOutcome): Promise<RunRecord> {
    if (outcome.status !== 'succeeded' && outcome.status !== 'failed') {
      throw new InputError(`a run finishes as succeeded or failed, not "${String(outcome.status)}"`);
    }
    const rows = await this.client.query<RunRow>(
      `UPDATE detour_runs
       SET status = $2, finished_at = $3, rows_read = $4, rows_quarantined = $5, outliers = $6, error = $7, lease_expires_at = NULL
       WHERE id = $1 AND status = 'running' AND ($8::text IS NULL OR lease_owner = $8::text)
       RETURNING ${RUN_COLUMNS}`,
      [
        id,
        outcome.status,
        new Date(),
        optionalCount(outcome.rowsRead, 'rowsRead'),
        optionalCount(outcome.rowsQuarantined, 'rowsQuarantined'),
        optionalCount(outcome.outliers, 'outliers'),
        outcome.error === undefined ? null : printableLine(outcome.error),
        outcome.owner ?? null,
      ],
    );
    if (rows.length > 0) return toRunRecord(rows[0]);
    const existing = await this.client.query<Pick<RunRow, 'status' | 'error' | 'lease_owner'>>('SELECT status, error, lease_owner FROM detour_runs WHERE id = $1', [id]);
    if (existing.length === 0) throw new NotFoundError(`no run with id ${id}`);
    const [{ status, error, lease_owner: leaseOwner }] = existing;
    if (outcome.owner !== undefined) throw new LeaseLostError(`run ${id} is no longer ${outcome.owner}'s: ${status === 'running' ? `${leaseOwner} resumed it` : `it ${status}${error ? `: ${error}` : ''}`}`);
    throw new InputError(`run ${id} already finished as ${status}`);
  }

  async renewRunLease(id: string, lease: Lease): Promise<boolean> {
    requireLease(lease);
    const rows = await this.client.query(
      `UPDATE detour_runs SET heartbeat_at = now(), lease_expires_at = ${leaseEnd(3)}
       WHERE id = $1 AND status = 'running' AND lease_owner = $2 RETURNING id`,
      [id, lease.owner, lease.seconds],
    );
    return rows.length === 1;
  }

  async renewStepLease(runId: string, step: string, partition: string, lease: Lease): Promise<boolean> {
    requireLease(lease);
    const rows = await this.client.query(
      `UPDATE detour_steps SET heartbeat_at = now(), lease_expires_at = ${leaseEnd(5)}
       WHERE run_id = $1 AND step = $2 AND partition = $3 AND status = 'running' AND worker = $4 RETURNING run_id`,
      [runId, step, partition, lease.owner, lease.seconds],
    );
    return rows.length === 1;
  }

  /**
   * Fails the running runs whose lease expired, then the running steps of runs no longer running
   * whose lease expired (a step of a live run is its coordinator's to hand to another worker). One
   * statement (every read of a run pays for it): the steps' UPDATE sees the runs as they were
   * before it, so the runs it has just failed are named to it from the first UPDATE's ids.
   * Concurrent callers are safe: a row already failed by one no longer matches for the other.
   */
  private async expireLeases(): Promise<void> {
    await this.client.query(
      `WITH expired_runs AS (
         UPDATE detour_runs
         SET status = 'failed', finished_at = now(), lease_expires_at = NULL,
             error = format($1::text, coalesce(lease_owner, 'unknown'), ${heartbeatText('heartbeat_at')}, id)
         WHERE status = 'running' AND lease_expires_at < now()
         RETURNING id
       )
       UPDATE detour_steps AS s
       SET status = 'failed', finished_at = now(), lease_expires_at = NULL,
           seconds = extract(epoch FROM now() - s.started_at),
           error = format($2::text, coalesce(s.worker, 'unknown'), ${heartbeatText('s.heartbeat_at')})
       FROM detour_runs AS r
       WHERE r.id = s.run_id AND (r.status <> 'running' OR r.id IN (SELECT id FROM expired_runs))
         AND s.status = 'running' AND s.lease_expires_at < now()`,
      [RUN_LEASE_EXPIRED, STEP_LEASE_EXPIRED],
    );
  }

  /** Newest first (by start time, then id); all runs unless `limit` is given. */
  async listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    const { pipeline, status, from, to, after, limit } = options;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) {
      throw new InputError(`limit must be a positive integer, got ${limit}`);
    }
    for (const date of [from, to]) if (date !== undefined) requireIsoDate(date);
    await this.expireLeases();
    const rows = await this.client.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM detour_runs
       WHERE ($1::text IS NULL OR pipeline = $1::text)
         AND ($3::text IS NULL OR status = $3::text)
         AND ($4::date IS NULL OR end_date >= $4::date)
         AND ($5::date IS NULL OR logical_date <= $5::date)
         AND ($6::timestamptz IS NULL OR (started_at, id) < ($6::timestamptz, $7::text))
       ORDER BY started_at DESC, id DESC
       LIMIT $2::bigint`,
      [pipeline ?? null, limit ?? null, status ?? null, from ?? null, to ?? null, after?.startedAt ?? null, after?.id ?? null],
    );
    return rows.map(toRunRecord);
  }

  async runsTriggeredBy(pipeline: string, trigger: Record<string, unknown>): Promise<RunRecord[]> {
    requireText(pipeline, 'pipeline');
    await this.expireLeases();
    const rows = await this.client.query<RunRow>(
      `SELECT ${RUN_COLUMNS} FROM detour_runs
       WHERE pipeline = $1 AND params->'trigger' @> $2::text::jsonb
       ORDER BY started_at DESC, id DESC`,
      [pipeline, toJson(trigger)],
    );
    return rows.map(toRunRecord);
  }

  /** An exact id wins over longer ids it prefixes; several prefix matches are an InputError. */
  async getRun(idOrPrefix: string): Promise<RunRecord> {
    const prefix = idOrPrefix.trim();
    if (prefix === '') throw new InputError('a run id or prefix is required');
    await this.expireLeases();
    // count(*) OVER () is computed before LIMIT: the total number of matches, next to a few of them.
    const rows = await this.client.query<RunRow & { matches: BigintValue }>(
      `SELECT ${RUN_COLUMNS}, count(*) OVER () AS matches FROM detour_runs
       WHERE starts_with(id, $1)
       ORDER BY id = $1 DESC, started_at DESC, id DESC
       LIMIT ${AMBIGUOUS_EXAMPLES}`,
      [prefix],
    );
    if (rows.length === 0) throw new NotFoundError(`no run with id or prefix "${prefix}"`);
    const matches = Number(rows[0].matches);
    if (rows[0].id === prefix || matches === 1) return toRunRecord(rows[0]);
    const shown = rows.map((row) => row.id).join(', ');
    throw new InputError(
      `run id prefix "${prefix}" is ambiguous: it matches ${matches} runs (${shown}${matches > rows.length ? ', ...' : ''}); give more characters`,
    );
  }

  /** Results tables this store has made sure of: their DDL runs once per process, not once per date published. */
  private readonly ensuredTables = new Map<string, Promise<void>>();

  /** Runs `create` (idempotent DDL) for table `name` once per process, under the table's lock. */
  private ensureTable(name: string, create: (tx: SqlQueryable) => Promise<void>): Promise<void> {
    let ensured = this.ensuredTables.get(name);
    if (ensured === undefined) {
      ensured = this.client.transaction(async (tx) => {
        // Serialises the first CREATE TABLE of concurrent publishers of the same table.
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [name]);
        await create(tx);
      });
      // A failure is not remembered: the next publish tries again.
      ensured.catch(() => this.ensuredTables.delete(name));
      this.ensuredTables.set(name, ensured);
    }
    return ensured;
  }

  private ensureAnomaliesTable(name: string): Promise<void> {
    return this.ensureTable(name, async (tx) => {
      // Keyed by (date, id): a record id (a ride) may recur on other days; entity-day ids never do.
      await tx.query(`CREATE TABLE IF NOT EXISTS ${name} (
        id text NOT NULL,
        logical_date date NOT NULL,
        detector text NOT NULL,
        entity text NOT NULL,
        value double precision,
        expected double precision,
        lower_bound double precision,
        upper_bound double precision,
        score double precision NOT NULL,
        reason text NOT NULL,
        attributes jsonb,
        run_id text NOT NULL,
        updated_at timestamptz NOT NULL,
        CONSTRAINT ${name}_date_id_key PRIMARY KEY (logical_date, id)
      )`);
      // Tables created by detour 0.1 (keyed by id alone, no attributes) gain what the UPSERT needs;
      // a table created here has that index already, as its key (not a second one every row updates).
      await tx.query(`ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS attributes jsonb`);
      await tx.query(`CREATE UNIQUE INDEX IF NOT EXISTS ${name}_date_id_key ON ${name} (logical_date, id)`);
    });
  }

  /**
   * Makes the rows of each given date of a results table exactly that date's rows, all in one
   * transaction: `upsert` writes them a batch at a time (dates mixed), then the dates' rows whose
   * (date, id) is not among them are deleted.
   */
  private async replaceDateRows<T extends { id: string }>(
    name: string,
    dates: readonly { logicalDate: string; rows: readonly T[] }[],
    what: string,
    upsert: (tx: SqlQueryable, batch: { logicalDate: string; row: T }[]) => Promise<unknown>,
  ): Promise<void> {
    for (const { logicalDate, rows } of dates) requireUniqueIds(rows, what, logicalDate);
    const rows = dates.flatMap(({ logicalDate, rows }) => rows.map((row) => ({ logicalDate, row })));
    await this.client.transaction(async (tx) => {
      for (let start = 0; start < rows.length; start += UPSERT_BATCH_ROWS) await upsert(tx, rows.slice(start, start + UPSERT_BATCH_ROWS));
      await tx.query(
        `DELETE FROM ${name} AS a WHERE a.logical_date = ANY($1::date[])
           AND NOT EXISTS (SELECT 1 FROM unnest($2::date[], $3::text[]) AS kept(logical_date, id) WHERE kept.logical_date = a.logical_date AND kept.id = a.id)`,
        [dates.map((date) => date.logicalDate), rows.map(({ logicalDate }) => logicalDate), rows.map(({ row }) => row.id)],
      );
    });
  }

  async replaceAnomalies(table: string, runId: string, dates: readonly DatedAnomalies[]): Promise<void> {
    const name = anomaliesTable(table);
    requireText(runId, 'runId');
    for (const { logicalDate } of dates) requireIsoDate(logicalDate);
    await this.ensureAnomaliesTable(name);
    await this.replaceDateRows(name, dates, 'anomaly', (tx, batch) =>
      tx.query(
        `INSERT INTO ${name} (id, logical_date, detector, entity, value, expected, lower_bound, upper_bound, score, reason, attributes, run_id, updated_at)
         SELECT r.id, r.logical_date, r.detector, r.entity, r.value, r.expected, r.lower_bound, r.upper_bound, r.score, r.reason, r.attributes::jsonb, $1, now()
         FROM unnest($2::text[], $3::date[], $4::text[], $5::text[], $6::double precision[], $7::double precision[], $8::double precision[],
                     $9::double precision[], $10::double precision[], $11::text[], $12::text[])
           AS r(id, logical_date, detector, entity, value, expected, lower_bound, upper_bound, score, reason, attributes)
         ON CONFLICT (logical_date, id) DO UPDATE SET
           detector = EXCLUDED.detector, entity = EXCLUDED.entity,
           value = EXCLUDED.value, expected = EXCLUDED.expected, lower_bound = EXCLUDED.lower_bound,
           upper_bound = EXCLUDED.upper_bound, score = EXCLUDED.score, reason = EXCLUDED.reason,
           attributes = EXCLUDED.attributes, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at`,
        [
          runId,
          batch.map(({ row }) => row.id),
          batch.map(({ logicalDate }) => logicalDate),
          batch.map(({ row }) => row.detector),
          batch.map(({ row }) => row.entity),
          batch.map(({ row }) => row.value),
          batch.map(({ row }) => row.expected),
          batch.map(({ row }) => row.lower),
          batch.map(({ row }) => row.upper),
          batch.map(({ row }) => row.score),
          batch.map(({ row }) => row.reason),
          batch.map(({ row }) => (row.attributes == null ? null : JSON.stringify(row.attributes))),
        ],
      ),
    );
  }

  async replacePredictions(table: string, logicalDate: string, runId: string, model: ModelRef, rows: PredictionRow[]): Promise<void> {
    const name = predictionsTable(table);
    requireIsoDate(logicalDate);
    requireText(runId, 'runId');
    requireUniqueIds(rows, 'prediction', logicalDate);
    await this.ensureTable(name, (tx) => createPredictionsTable(tx, name));
    await this.client.transaction((tx) => replaceDatePredictions(tx, name, logicalDate, runId, model, rows));
  }

  async listPredictions(table: string, logicalDate: string): Promise<StoredPrediction[]> {
    const name = predictionsTable(table);
    requireIsoDate(logicalDate);
    return selectPredictions(this.client, name, logicalDate);
  }

  async listAnomalies(table: string, logicalDate: string): Promise<(AnomalyRow & { runId: string })[]> {
    const name = anomaliesTable(table);
    requireIsoDate(logicalDate);
    if (!(await this.tableExists(name))) return [];
    const rows = await this.client.query<AnomalyTableRow>(
      `SELECT ${ANOMALY_COLUMNS} FROM ${name} WHERE logical_date = $1::date ORDER BY id COLLATE "C"`,
      [logicalDate],
    );
    // One date was asked for: its rows do not repeat it.
    return rows.map((row) => {
      const { date: _date, ...anomaly } = toStoredAnomaly(row);
      return anomaly;
    });
  }

  /**
   * Pages follow the table's key, (date, id) in the database's collation, so that each page is an
   * index range scan however large the table grows.
   */
  async listAnomalyPage(table: string, query: AnomalyQuery): Promise<StoredAnomaly[]> {
    const name = anomaliesTable(table);
    const { from, to, entity, minScore, after, limit } = query;
    for (const date of [from, to, after?.date]) if (date !== undefined) requireIsoDate(date);
    if (!(Number.isSafeInteger(limit) && limit > 0)) throw new InputError(`limit must be a positive integer, got ${limit}`);
    if (!(await this.tableExists(name))) return [];
    const rows = await this.client.query<AnomalyTableRow>(
      `SELECT ${ANOMALY_COLUMNS} FROM ${name}
       WHERE ($1::date IS NULL OR logical_date >= $1::date)
         AND ($2::date IS NULL OR logical_date <= $2::date)
         AND ($3::text IS NULL OR entity = $3::text)
         AND ($4::double precision IS NULL OR score >= $4::double precision)
         AND ($5::date IS NULL OR (logical_date, id) > ($5::date, $6::text))
       ORDER BY logical_date, id
       LIMIT $7::bigint`,
      [from ?? null, to ?? null, entity ?? null, minScore ?? null, after?.date ?? null, after?.id ?? null, limit],
    );
    return rows.map(toStoredAnomaly);
  }

  /** Results tables seen to exist: results tables are never dropped, so each is asked about until it is there, then no more. */
  private readonly existingTables = new Set<string>();

  private async tableExists(name: string): Promise<boolean> {
    if (this.existingTables.has(name)) return true;
    const [{ exists }] = await this.client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
    if (exists) this.existingTables.add(name);
    return exists;
  }

  async recordQualityResults(runId: string, dataset: string, reports: readonly DatedQualityResults[]): Promise<void> {
    requireText(runId, 'runId');
    for (const { logicalDate } of reports) requireIsoDate(logicalDate);
    // One row per result, each column as one array: two statements whatever the number of dates.
    const rows = reports.flatMap(({ logicalDate, results }) => results.map((result, position) => ({ logicalDate, position, result })));
    await this.client.transaction(async (tx) => {
      await tx.query('DELETE FROM quality_results WHERE run_id = $1 AND logical_date = ANY($2::date[])', [runId, reports.map((report) => report.logicalDate)]);
      if (rows.length === 0) return;
      await tx.query(
        `INSERT INTO quality_results
           (run_id, position, dataset, logical_date, expectation, type, column_name, severity, passed, observed, failing_rows, sample)
         SELECT $1, r.position, $2, r.logical_date, r.expectation, r.type, r.column_name, r.severity, r.passed, r.observed, r.failing_rows, r.sample::jsonb
         FROM unnest($3::integer[], $4::date[], $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[], $10::double precision[], $11::bigint[], $12::text[])
           AS r(position, logical_date, expectation, type, column_name, severity, passed, observed, failing_rows, sample)`,
        [
          runId,
          dataset,
          rows.map((row) => row.position),
          rows.map((row) => row.logicalDate),
          rows.map((row) => row.result.expectation),
          rows.map((row) => row.result.type),
          rows.map((row) => row.result.column),
          rows.map((row) => row.result.severity),
          rows.map((row) => row.result.passed),
          rows.map((row) => row.result.observed),
          rows.map((row) => row.result.failingRows),
          rows.map((row) => JSON.stringify(row.result.sample)),
        ],
      );
    });
  }

  async listQualityResults(runId: string, logicalDate?: string): Promise<QualityResultRow[]> {
    if (logicalDate !== undefined) requireIsoDate(logicalDate);
    const rows = await this.client.query<QualityTableRow>(
      `SELECT ${QUALITY_COLUMNS} FROM quality_results WHERE run_id = $1 AND ($2::date IS NULL OR logical_date = $2::date)
       ORDER BY logical_date, position`,
      [runId, logicalDate ?? null],
    );
    return rows.map(toQualityResult);
  }

  async listDatasetQuality(dataset: string, from: string, to: string): Promise<DatasetQualityRow[]> {
    requireIsoDate(from);
    requireIsoDate(to);
    const rows = await this.client.query<QualityTableRow & { run_id: string; date: string }>(
      `SELECT run_id, to_char(logical_date, 'YYYY-MM-DD') AS date, ${QUALITY_COLUMNS} FROM quality_results
       WHERE dataset = $1 AND logical_date BETWEEN $2::date AND $3::date
       ORDER BY logical_date, run_id, position`,
      [dataset, from, to],
    );
    return rows.map((row) => ({ runId: row.run_id, date: row.date, ...toQualityResult(row) }));
  }

  recordMonitoring(pipeline: string, runId: string, report: MonitorReport) {
    requireText(runId, 'runId');
    for (const row of [...report.performance, ...report.drift, ...report.days, ...report.forecasts]) requireIsoDate(row.date);
    return monitoring.recordMonitoring(this.client, pipeline, runId, report);
  }

  listMonitoring(pipeline: string, from: string, to: string) {
    requireIsoDate(from);
    requireIsoDate(to);
    return monitoring.listMonitoring(this.client, pipeline, from, to);
  }

  recordFeedback(feedback: Feedback) {
    requireIsoDate(feedback.date);
    requireText(feedback.anomalyId, 'anomaly id');
    return monitoring.recordFeedback(this.client, feedback);
  }

  listFeedback(pipeline: string, from: string, to: string) {
    requireIsoDate(from);
    requireIsoDate(to);
    return monitoring.listFeedback(this.client, pipeline, from, to);
  }

  changeAlarm(pipeline: string, alarm: string, change: { state: AlarmState; message: string; date: string | null }) {
    if (change.date !== null) requireIsoDate(change.date);
    return monitoring.changeAlarm(this.client, pipeline, alarm, change);
  }

  listAlarms(pipeline?: string) {
    return monitoring.listAlarms(this.client, pipeline);
  }

  async ping(): Promise<void> {
    await this.client.query('SELECT 1');
  }

  reserveModelVersion(model: NewModelVersion) {
    return registry.reserveModelVersion(this.client, model);
  }

  registerModelVersion(name: string, version: number, registration: ModelRegistration) {
    return registry.registerModelVersion(this.client, name, version, registration);
  }

  listModels(options?: ListModelsOptions) {
    return registry.listModels(this.client, options);
  }

  getModelVersion(name: string, version: number) {
    return registry.getModelVersion(this.client, name, version);
  }

  promoteModel(name: string, version: number, options: { reason: string; restore?: boolean }) {
    return registry.promoteModel(this.client, name, version, options);
  }

  listModelStages(name: string) {
    return registry.listModelStages(this.client, name);
  }

  async reopenRun(id: string, lease: Lease): Promise<RunRecord> {
    requireLease(lease);
    await this.expireLeases();
    const rows = await this.client.query<RunRow>(
      `UPDATE detour_runs SET status = 'running', finished_at = NULL, error = NULL,
         lease_owner = $2, heartbeat_at = now(), lease_expires_at = ${leaseEnd(3)}
       WHERE id = $1 AND status = 'failed'
       RETURNING ${RUN_COLUMNS}`,
      [id, lease.owner, lease.seconds],
    );
    if (rows.length > 0) return toRunRecord(rows[0]);
    const existing = await this.client.query<{ status: RunStatus }>('SELECT status FROM detour_runs WHERE id = $1', [id]);
    if (existing.length === 0) throw new NotFoundError(`no run with id ${id}`);
    throw new InputError(`run ${id} is ${existing[0].status}; only a failed run can be resumed`);
  }

  async planSteps(runId: string, steps: PlannedStep[]): Promise<void> {
    requireText(runId, 'runId');
    if (steps.length === 0) return;
    await this.client.query(
      `INSERT INTO detour_steps (run_id, step, partition, spec, position, status)
       SELECT $1, s.step, s.partition, s.spec::json, s.position, s.status
       FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], $6::text[]) AS s(step, partition, spec, position, status)
       ON CONFLICT (run_id, step, partition) DO NOTHING`,
      [
        runId,
        steps.map((s) => s.step),
        steps.map((s) => s.partition),
        steps.map((s) => (s.spec === undefined ? null : JSON.stringify(s.spec))),
        steps.map((s) => s.position),
        steps.map((s) => s.status ?? 'pending'),
      ],
    );
  }

  async updateStep(runId: string, step: string, partition: string, update: StepUpdate): Promise<StepRecord> {
    const now = new Date();
    const final = update.status === 'succeeded' || update.status === 'failed' || update.status === 'skipped';
    if (update.status === 'running') {
      if (update.lease === undefined) throw new InputError(`a running step needs its worker's lease (step ${step} [${partition}] of run ${runId})`);
      requireLease(update.lease);
    }
    const rows = await this.client.query<StepRow>(
      `UPDATE detour_steps SET
         status = $4,
         attempts = coalesce($5, attempts),
         started_at = CASE WHEN $4 = 'running' THEN $6::timestamptz ELSE started_at END,
         finished_at = CASE WHEN $7 THEN $6::timestamptz ELSE NULL END,
         seconds = CASE WHEN $7 AND started_at IS NOT NULL THEN extract(epoch FROM ($6::timestamptz - started_at)) ELSE NULL END,
         output = CASE WHEN $4 = 'running' THEN NULL ELSE coalesce($8::text::json, output) END,
         error = $9,
         worker = CASE WHEN $4 = 'running' THEN $10 ELSE worker END,
         heartbeat_at = CASE WHEN $4 = 'running' THEN now() ELSE heartbeat_at END,
         lease_expires_at = CASE WHEN $4 = 'running' THEN ${leaseEnd(11)} ELSE NULL END
       WHERE run_id = $1 AND step = $2 AND partition = $3
       RETURNING ${STEP_COLUMNS}`,
      [
        runId,
        step,
        partition,
        update.status,
        update.attempts ?? null,
        now,
        final,
        update.output === undefined ? null : JSON.stringify(update.output),
        update.error === undefined ? null : printableLine(update.error),
        update.lease?.owner ?? null,
        update.lease?.seconds ?? null,
      ],
    );
    if (rows.length === 0) throw new NotFoundError(`run ${runId} has no step ${step} [${partition}]`);
    return toStepRecord(rows[0]);
  }

  async listSteps(runId: string): Promise<StepRecord[]> {
    const rows = await this.client.query<StepRow>(
      `SELECT ${STEP_COLUMNS} FROM detour_steps WHERE run_id = $1 ORDER BY position, partition COLLATE "C"`,
      [runId],
    );
    return rows.map(toStepRecord);
  }

  async succeededDates(pipeline: string, from: string, to: string): Promise<string[]> {
    requireIsoDate(from);
    requireIsoDate(to);
    await this.expireLeases();
    const rows = await this.client.query<{ day: string }>(
      `SELECT DISTINCT to_char(day, 'YYYY-MM-DD') AS day
       FROM detour_runs, generate_series(logical_date, end_date, interval '1 day') AS day
       WHERE pipeline = $1 AND status = 'succeeded' AND day BETWEEN $2::date AND $3::date
         AND params->'training' IS NULL
       ORDER BY day`,
      [pipeline, from, to],
    );
    return rows.map((row) => row.day);
  }

  async claimScheduledRun(pipeline: string, logicalDate: string, tickAt: Date): Promise<boolean> {
    requireIsoDate(logicalDate);
    const rows = await this.client.query(
      `INSERT INTO detour_schedule_claims (pipeline, logical_date, tick_at) VALUES ($1, $2::date, $3)
       ON CONFLICT (pipeline, logical_date) DO NOTHING RETURNING pipeline`,
      [pipeline, logicalDate, tickAt],
    );
    return rows.length === 1;
  }

  async lastScheduledTick(pipeline: string): Promise<Date | null> {
    // Called on every scheduler tick: a long-lived `detour serve` cleans up after dead coordinators.
    await this.expireLeases();
    const rows = await this.client.query<{ tick_at: Date | null }>('SELECT max(tick_at) AS tick_at FROM detour_schedule_claims WHERE pipeline = $1', [pipeline]);
    return rows[0]?.tick_at ?? null;
  }

  /** Idempotent: later calls wait for the first one. */
  close(): Promise<void> {
    this.closing ??= this.client.close();
    return this.closing;
  }
}

/**
 * A time-sortable id short enough to type: `20240101T120000Z-ab12cd`, the UTC start second then
 * 24 random bits. Ids of the same second do not sort by start time; listRuns orders by start time.
 */
function newRunId(startedAt: Date): string {
  const second = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
  return `${second}-${randomBytes(3).toString('hex')}`;
}

const ANOMALY_COLUMNS = `to_char(logical_date, 'YYYY-MM-DD') AS date, id, detector, entity, value, expected, lower_bound, upper_bound, score, reason, attributes, run_id`;

interface AnomalyTableRow {
  date: string;
  id: string;
  detector: string;
  entity: string;
  value: number | null;
  expected: number | null;
  lower_bound: number | null;
  upper_bound: number | null;
  score: number;
  reason: string;
  attributes: Record<string, unknown> | string | null;
  run_id: string;
}

function toStoredAnomaly(row: AnomalyTableRow): StoredAnomaly {
  return {
    date: row.date,
    id: row.id,
    detector: row.detector,
    entity: row.entity,
    value: row.value,
    expected: row.expected,
    lower: row.lower_bound,
    upper: row.upper_bound,
    score: row.score,
    reason: row.reason,
    attributes: parsedJson(row.attributes),
    runId: row.run_id,
  };
}

const QUALITY_COLUMNS = 'expectation, type, column_name, severity, passed, observed, failing_rows, sample';

interface QualityTableRow {
  expectation: string;
  type: string;
  column_name: string | null;
  severity: 'warn' | 'fail';
  passed: boolean;
  observed: number | null;
  failing_rows: string | number | null;
  sample: Record<string, unknown>[] | string;
}

function toQualityResult(row: QualityTableRow): QualityResultRow {
  return {
    expectation: row.expectation,
    type: row.type,
    column: row.column_name,
    severity: row.severity,
    passed: row.passed,
    observed: row.observed,
    failingRows: row.failing_rows === null ? null : Number(row.failing_rows),
    sample: parsedJson(row.sample),
  };
}

const STEP_COLUMNS = 'run_id, step, partition, spec, position, status, attempts, started_at, finished_at, seconds, output, error, worker, heartbeat_at, lease_expires_at';

interface StepRow {
  run_id: string;
  step: string;
  partition: string;
  spec: unknown;
  position: number;
  status: StepStatus;
  attempts: number;
  started_at: Date | null;
  finished_at: Date | null;
  seconds: number | string | null;
  output: unknown;
  error: string | null;
  worker: string | null;
  heartbeat_at: Date | null;
  lease_expires_at: Date | null;
}

function toStepRecord(row: StepRow): StepRecord {
  return {
    runId: row.run_id,
    step: row.step,
    partition: row.partition,
    spec: parsedJson(row.spec),
    position: row.position,
    status: row.status,
    attempts: row.attempts,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    seconds: row.seconds === null ? null : Math.round(Number(row.seconds) * 1000) / 1000,
    output: parsedJson(row.output),
    error: row.error,
    worker: row.worker,
    heartbeatAt: row.heartbeat_at,
    leaseExpiresAt: row.lease_expires_at,
  };
}

function toRunRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    pipeline: row.pipeline,
    logicalDate: row.logical_date,
    endDate: row.end_date,
    params: row.params,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    rowsRead: countOrNull(row.rows_read),
    rowsQuarantined: countOrNull(row.rows_quarantined),
    outliers: countOrNull(row.outliers),
    error: row.error,
    leaseOwner: row.lease_owner,
    heartbeatAt: row.heartbeat_at,
    leaseExpiresAt: row.lease_expires_at,
  };
}

function countOrNull(value: BigintValue | null): number | null {
  return value === null ? null : Number(value);
}

function optionalCount(value: number | undefined, name: string): number | null {
  if (value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InputError(`${name} must be a non-negative integer, got ${value}`);
  }
  return value;
}

function requireLease(lease: Lease): void {
  requireText(lease?.owner, 'lease owner');
  if (!(Number.isFinite(lease.seconds) && lease.seconds > 0)) throw new InputError(`a lease lasts a positive number of seconds, got ${lease.seconds}`);
}

function requireText(value: string, name: string): void {
  if (typeof value !== 'string' || value.trim() === '') throw new InputError(`${name} must be a non-empty string`);
}

/** A real calendar date in YYYY-MM-DD form, checked here so that a typo is an InputError, not a SQL error. */
function requireIsoDate(value: string): void {
  if (typeof value !== 'string' || !isIsoDate(value)) throw new InputError(`logical date must be a date as YYYY-MM-DD, got "${value}"`);
}

/** The ids of a date's rows must be unique: they key the rows of the date. */
function requireUniqueIds(rows: readonly { id: string }[], what: string, logicalDate: string): void {
  if (new Set(rows.map((row) => row.id)).size !== rows.length) throw new InputError(`${what} ids must be unique within ${logicalDate}`);
}

/** Params as JSON text; they round-trip as JSON does (Dates become strings, undefined is dropped). */
function toJson(params: Record<string, unknown>): string {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new InputError('run params must be an object');
  }
  try {
    return JSON.stringify(params);
  } catch (error) {
    throw new InputError(`run params are not serialisable as JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** A results table name, checked because it is spliced into SQL. */
function anomaliesTable(table: string): string {
  if (!/^[a-z][a-z0-9_]{0,50}_anomalies$/.test(table)) {
    throw new InputError(`anomalies table "${table}" must be lower_snake_case and end in _anomalies`);
  }
  return table;
}
