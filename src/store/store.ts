export type RunStatus = 'running' | 'succeeded' | 'failed';

/** One pipeline run for one logical date, as recorded in the run store. */
export interface RunRecord {
  id: string;
  pipeline: string;
  logicalDate: string;
  params: Record<string, unknown>;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  rowsRead: number | null;
  rowsQuarantined: number | null;
  outliers: number | null;
  error: string | null;
}

export interface NewRun {
  pipeline: string;
  logicalDate: string;
  params: Record<string, unknown>;
}

export interface RunOutcome {
  status: Exclude<RunStatus, 'running'>;
  rowsRead?: number;
  rowsQuarantined?: number;
  outliers?: number;
  error?: string;
}

/** One outlier ride as published to the `ride_anomalies` table, keyed by (logicalDate, rideId). */
export interface RideAnomalyRow {
  rideId: string;
  taxiId: string;
  rideDistKm: number;
  rideTimeMin: number;
  label: number;
  score: number;
  reason: string;
}

/** One published anomaly of a declarative pipeline, keyed by a stable id such as `ORD20010105`. */
export interface AnomalyRow {
  id: string;
  /** Detector(s) that flagged it, e.g. `arima` or `arima+iforest`. */
  detector: string;
  entity: string;
  value: number | null;
  expected: number | null;
  lower: number | null;
  upper: number | null;
  /** 0..1, higher = more anomalous. */
  score: number;
  reason: string;
}

/** One expectation outcome of a run's data-quality report. */
export interface QualityResultRow {
  expectation: string;
  type: string;
  column: string | null;
  severity: 'warn' | 'fail';
  passed: boolean;
  observed: number | null;
  failingRows: number | null;
  /** A few failing rows, as JSON objects. */
  sample: Record<string, unknown>[];
}

export interface ListRunsOptions {
  pipeline?: string;
  limit?: number;
}

/**
 * Run store and results database. The same SQL runs on embedded PGlite and on a PostgreSQL
 * server; only the client differs.
 */
export interface Store {
  /** Human-readable location, e.g. `pglite:./.detour/db` or `postgres://host:5432/db`. */
  readonly description: string;
  /** Records a new run in status `running` and returns it with its generated id. */
  startRun(run: NewRun): Promise<RunRecord>;
  /** Marks a run finished with its counts or error. */
  finishRun(id: string, outcome: RunOutcome): Promise<RunRecord>;
  /** Newest first. */
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;
  /** A run by full id or unique id prefix; NotFoundError otherwise. */
  getRun(idOrPrefix: string): Promise<RunRecord>;
  /**
   * Makes the `ride_anomalies` rows of `logicalDate` exactly `rows`: UPSERT by (date, ride_id),
   * and rows of that date no longer flagged are removed, in one transaction.
   */
  replaceRideAnomalies(logicalDate: string, runId: string, rows: RideAnomalyRow[]): Promise<void>;
  /**
   * Makes the rows of `logicalDate` in `table` (created on first use; a lower_snake_case name ending
   * in `_anomalies`) exactly `rows`: UPSERT by id, rows of that date no longer flagged removed.
   */
  replaceAnomalies(table: string, logicalDate: string, runId: string, rows: AnomalyRow[]): Promise<void>;
  /** Rows of `table` for one date, sorted by id; empty when the table does not exist yet. */
  listAnomalies(table: string, logicalDate: string): Promise<(AnomalyRow & { runId: string })[]>;
  /** Stores a run's quality report (replacing one stored before for that run). */
  recordQualityResults(runId: string, dataset: string, logicalDate: string, results: QualityResultRow[]): Promise<void>;
  /** The quality results of a run, in report order. */
  listQualityResults(runId: string): Promise<QualityResultRow[]>;
  /** Rows of `ride_anomalies` for one date, sorted by ride id. */
  listRideAnomalies(logicalDate: string): Promise<(RideAnomalyRow & { runId: string })[]>;
  close(): Promise<void>;
}
