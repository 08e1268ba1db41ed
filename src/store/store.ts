export type RunStatus = 'running' | 'succeeded' | 'failed';

/**
 * A process's claim on a run it coordinates or a step it executes, renewed by its heartbeats.
 * A lease not renewed in time (its process killed, its machine gone, its database lost) expires,
 * and the run is then failed by the next process that uses the store, so that it can be resumed.
 */
export interface Lease {
  /** The holder, `host:pid` of its process. */
  owner: string;
  /** How long the lease lasts from now unless renewed. */
  seconds: number;
}

/** The holder's renewals of a run's lease or a running step's no longer hold it: the run was failed or the step taken over meanwhile. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

/** One pipeline run over a range of logical dates (usually one day), as recorded in the run store. */
export interface RunRecord {
  id: string;
  pipeline: string;
  /** First logical date of the run. */
  logicalDate: string;
  /** Last logical date of the run (= logicalDate for a daily run). */
  endDate: string;
  params: Record<string, unknown>;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  rowsRead: number | null;
  rowsQuarantined: number | null;
  outliers: number | null;
  error: string | null;
  /** The coordinator holding (or that last held) the run's lease: `host:pid`. */
  leaseOwner: string | null;
  /** The coordinator's last heartbeat. */
  heartbeatAt: Date | null;
  /** When the run fails unless its lease is renewed; null once it finished. */
  leaseExpiresAt: Date | null;
}

export interface NewRun {
  pipeline: string;
  logicalDate: string;
  /** Last date of a range run; defaults to logicalDate. */
  endDate?: string;
  params: Record<string, unknown>;
  /** The coordinator's lease on the run. */
  lease: Lease;
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';

/** A step partition as planned: `partition` is its label (unique within the step), `spec` the partition as JSON data. */
export interface PlannedStep {
  step: string;
  partition: string;
  /** What the partition is (dates, shard, day), stored as JSON for whoever runs it; the store does not interpret it. */
  spec?: unknown;
  position: number;
  /** `skipped` for a step with nothing to do in this pipeline; default `pending`. */
  status?: 'pending' | 'skipped';
}

/** One partition of one step of a run's graph (`clean` of 2024-01 dates, `detect` of shard 1...). */
export interface StepRecord {
  runId: string;
  step: string;
  partition: string;
  /** The partition as data (see PlannedStep.spec); null for steps recorded before specs existed. */
  spec: unknown;
  /** Order of the step in the graph; steps of the same position may run in parallel. */
  position: number;
  status: StepStatus;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  seconds: number | null;
  /** What the step produced (lake keys, counts), read by later steps and by resume. */
  output: unknown;
  error: string | null;
  /** Who ran (or runs) it: `host:pid` of the process, the owner of the step's lease. */
  worker: string | null;
  /** The worker's last heartbeat while the step ran. */
  heartbeatAt: Date | null;
  /** When a running step's lease runs out unless renewed; null once it finished. */
  leaseExpiresAt: Date | null;
}

export interface StepUpdate {
  status: StepStatus;
  attempts?: number;
  /** The executing process's lease on the step; required with status running. */
  lease?: Lease;
  output?: unknown;
  /** Stored as one printable line (see `printableLine`). */
  error?: string;
}

export interface RunOutcome {
  status: Exclude<RunStatus, 'running'>;
  rowsRead?: number;
  rowsQuarantined?: number;
  outliers?: number;
  /** Stored as one printable line (see `printableLine`). */
  error?: string;
  /** The coordinator finishing the run: it must still hold the run's lease (LeaseLostError otherwise). */
  owner?: string;
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
  /** Record-level detectors keep the record's fields here (e.g. `ride_dist_km`, `taxi_id`). */
  attributes?: Record<string, unknown> | null;
}

/** One date's anomalies, as {@link Store.replaceAnomalies} publishes them. */
export interface DatedAnomalies {
  logicalDate: string;
  rows: AnomalyRow[];
}

/** A model version by name and number. */
export interface ModelRef {
  name: string;
  version: number;
}

/** One row's probability under a supervised model, keyed by the row's id. */
export interface PredictionRow {
  id: string;
  probability: number;
  /** The feature values it was computed from, by name. */
  features: Record<string, number>;
}

/** A prediction as a predictions table holds it. */
export interface StoredPrediction extends PredictionRow {
  model: ModelRef;
  runId: string;
}

/** One bin of a calibration table (see the supervised metrics): rows by probability, against how often the outcome happened. */
export interface CalibrationRow {
  from: number;
  to: number;
  rows: number;
  mean_probability: number;
  observed_rate: number;
}

/** How one model version's predictions of one date did against the ground truth known so far. */
export interface PerformanceRow {
  date: string;
  model: ModelRef;
  /** Predictions the version made for the date. */
  predictions: number;
  /** Those whose ground truth arrived. */
  matched: number;
  /** Matched predictions whose outcome was 1. */
  positives: number;
  /** Null when the matched outcomes are all the same (AUC) or none arrived. */
  auc: number | null;
  logLoss: number | null;
  brier: number | null;
  calibration: CalibrationRow[];
}

/** How far one feature (or `score`) of a model's predictions up to a date lies from its training values. */
export interface DriftRow {
  date: string;
  model: ModelRef;
  feature: string;
  /** Days of predictions compared, ending at `date`. */
  windowDays: number;
  rows: number;
  /** The training values were all the same: no spread to compare with, psi and ks null. */
  constant: boolean;
  psi: number | null;
  ks: number | null;
}

/** What a date's monitoring counted besides per-version metrics: ground truth that matched no prediction, and anomaly feedback. */
export interface MonitorDay {
  date: string;
  /** Ground-truth rows found in the date's partition. */
  actuals: number;
  /** Of those, rows whose id no prediction of the look-back window has: counted, never joined. */
  unmatchedActuals: number;
  /** Anomalies published for the date. */
  flagged: number;
  /** People's verdicts on them: confirmed, rejected, and records they say were missed. */
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
}

/** How one series detector's one-step forecasts (each point's `expected`) of one date did against the values. */
export interface ForecastRow {
  date: string;
  detector: string;
  /** The registered model version that forecast (its name without the entity); null when the detector fitted the run's data itself (ARIMA, stream, shallow). */
  model: ModelRef | null;
  /** Points of the date with both a value and a forecast, flagged or not. */
  points: number;
  /** Mean absolute error, in the value's units. */
  mae: number;
  /** Of the points, those whose value is not zero: MAPE leaves zero values out. */
  mapePoints: number;
  /** Mean absolute percentage error over `mapePoints`, in percent; null when every value was zero. */
  mape: number | null;
}

/** What a monitor step records for its dates. */
export interface MonitorReport {
  performance: PerformanceRow[];
  drift: DriftRow[];
  days: MonitorDay[];
  forecasts: ForecastRow[];
}

export type FeedbackVerdict = 'true_positive' | 'false_positive' | 'false_negative';

/** A person's verdict on an anomaly (or, `false_negative`, on a record that should have been one). */
export interface Feedback {
  pipeline: string;
  date: string;
  anomalyId: string;
  verdict: FeedbackVerdict;
  note?: string | null;
  /** Who gave it: the API token's name, when there is one. */
  recordedBy?: string | null;
}

export interface StoredFeedback extends Feedback {
  recordedAt: Date;
}

export type AlarmState = 'firing' | 'resolved';

/** An alarm of a pipeline (`drift`, `performance`, `stale`, `flag_rate`, `run_failed`) as last changed. */
export interface AlarmRecord {
  pipeline: string;
  alarm: string;
  state: AlarmState;
  /** What it said when it last changed. */
  message: string;
  /** The logical date it changed for, when one did. */
  date: string | null;
  changedAt: Date;
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

/** One date's quality report, as {@link Store.recordQualityResults} stores it. */
export interface DatedQualityResults {
  logicalDate: string;
  results: QualityResultRow[];
}

/** Where a model version stands: trained and waiting, the one detect steps score with, or retired. */
export type ModelStage = 'candidate' | 'production' | 'archived';

/** What a training run knows of a model version before its artifact is written. */
export interface NewModelVersion {
  /** `<model>/<entity>`, e.g. `bus_iforest/B3`: one model per entity, versions 1, 2, ... per name; a supervised model's is `<model>`. */
  name: string;
  detector: string;
  /** The entity whose rows it learnt from; null for a model of all rows (a supervised model). */
  entity: string | null;
  params: Record<string, unknown>;
  /** The training window: first and last logical date of the rows it learnt from. */
  window: { from: string; to: string };
  /** Every lake object the rows were read from, with its sha256. */
  inputs: { key: string; sha256: string }[];
  detourVersion: string;
  /** The training run that trained it: a run trains at most one version of a name. */
  trainingRunId: string;
}

/** The artifact of a model version in the lake. */
export interface ModelArtifact {
  key: string;
  sha256: string;
  bytes: number;
}

/** A model version as the registry holds it. */
export interface ModelVersion extends NewModelVersion {
  version: number;
  stage: ModelStage;
  /** Validation and training metrics; null while the version is only reserved. */
  metrics: Record<string, number> | null;
  /** Null while the version is only reserved. */
  artifact: ModelArtifact | null;
  createdAt: Date;
  /** When artifact and metrics were recorded: the version is visible from then on; null while reserved. */
  registeredAt: Date | null;
  /** When it last became production. */
  promotedAt: Date | null;
  /** The production version it replaced when it became production: where a rollback goes. */
  previousProduction: number | null;
}

/** What registering a reserved version records. */
export interface ModelRegistration {
  artifact: ModelArtifact;
  metrics: Record<string, number>;
  /** Why it is registered as it is (its stage history's first line), e.g. why it was not promoted. */
  note: string;
  /**
   * Promote it in the same transaction, if production is still `ifProduction` (null: none); when
   * production changed meanwhile, nothing is recorded and a TransientError asks to decide again.
   */
  promote?: { ifProduction: number | null; reason: string };
}

/** One line of a model's stage history. */
export interface ModelStageChange {
  name: string;
  version: number;
  stage: ModelStage;
  reason: string;
  changedAt: Date;
}

export interface ListModelsOptions {
  /** A model name (`bus_iforest/B3`), or a model (`bus_iforest`) for all its entities' versions. */
  name?: string;
  stage?: ModelStage;
  trainingRunId?: string;
}

/** Where a page of runs (newest first) ended: the next page starts after this run. */
export interface RunCursor {
  startedAt: Date;
  id: string;
}

export interface ListRunsOptions {
  pipeline?: string;
  status?: RunStatus;
  /** Only runs whose dates reach this date or later (YYYY-MM-DD). */
  from?: string;
  /** Only runs whose dates start on this date or earlier (YYYY-MM-DD). */
  to?: string;
  /** Only runs older than this one (by start time, then id): the next page. */
  after?: RunCursor;
  limit?: number;
}

/** A published anomaly as the results table holds it: with its date and the run that published it. */
export interface StoredAnomaly extends AnomalyRow {
  date: string;
  runId: string;
}

/** Where a page of anomalies (by date, then id) ended. */
export interface AnomalyCursor {
  date: string;
  id: string;
}

/** A page of a results table, in (date, id) order. */
export interface AnomalyQuery {
  /** First and last date (YYYY-MM-DD), both included. */
  from?: string;
  to?: string;
  entity?: string;
  minScore?: number;
  after?: AnomalyCursor;
  limit: number;
}

/** One expectation outcome of a dataset's quality report, with the run and date it belongs to. */
export interface DatasetQualityRow extends QualityResultRow {
  runId: string;
  date: string;
}

/**
 * Run store and results database. The same SQL runs on embedded PGlite and on a PostgreSQL
 * server; only the client differs.
 *
 * Leases: a running run and each running step hold a {@link Lease}. Every call that reads or
 * starts runs (startRun, reopenRun, getRun, listRuns, runsTriggeredBy, succeededDates, lastScheduledTick: what
 * listing runs, starting or resuming one, a scheduler tick and a worker do) first fails the runs
 * whose lease expired, with the reason and how to resume them, and the running steps of failed
 * runs whose lease expired. Any process using the store thereby cleans up after a dead one.
 */
export interface Store {
  /** Human-readable location, e.g. `pglite:./.detour/db` or `postgres://host:5432/db`. */
  readonly description: string;
  /** Records a new run in status `running`, leased to `run.lease.owner`, and returns it with its generated id. */
  startRun(run: NewRun): Promise<RunRecord>;
  /** Marks a run finished with its counts or error. */
  finishRun(id: string, outcome: RunOutcome): Promise<RunRecord>;
  /** Extends the lease of a running run held by `lease.owner` to `lease.seconds` from now; false when the owner no longer holds it. */
  renewRunLease(id: string, lease: Lease): Promise<boolean>;
  /** Newest first. */
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;
  /**
   * Runs of `pipeline` started for `trigger` (their params' `trigger` holds it, e.g. the landed file
   * that started them), newest first: how an event that comes again finds the run it started.
   */
  runsTriggeredBy(pipeline: string, trigger: Record<string, unknown>): Promise<RunRecord[]>;
  /** A run by full id or unique id prefix; NotFoundError otherwise. */
  getRun(idOrPrefix: string): Promise<RunRecord>;
  /** Sets a failed run back to running under a new lease, for resume; InputError unless it failed. */
  reopenRun(id: string, lease: Lease): Promise<RunRecord>;
  /** Adds the steps of a run's graph as `pending` (steps already recorded are kept as they are). */
  planSteps(runId: string, steps: PlannedStep[]): Promise<void>;
  /** Records a step's new state; `running` stamps the start, a final state the end and seconds. */
  updateStep(runId: string, step: string, partition: string, update: StepUpdate): Promise<StepRecord>;
  /** Extends the lease of a running step held by `lease.owner`; false when it no longer runs there (finished, taken over, failed with its run). */
  renewStepLease(runId: string, step: string, partition: string, lease: Lease): Promise<boolean>;
  /** The steps of a run in graph order. */
  listSteps(runId: string): Promise<StepRecord[]>;
  /** Dates in [from, to] covered by a succeeded run of `pipeline` (training runs, whose params hold `training`, cover none). */
  succeededDates(pipeline: string, from: string, to: string): Promise<string[]>;
  /**
   * Claims the scheduled run of (pipeline, logicalDate): true for exactly one caller whatever the
   * number of schedulers, false for every later one.
   */
  claimScheduledRun(pipeline: string, logicalDate: string, tickAt: Date): Promise<boolean>;
  /** The newest tick claimed for `pipeline`, or null. */
  lastScheduledTick(pipeline: string): Promise<Date | null>;
  /**
   * Makes the rows of each given date in `table` (created on first use; a lower_snake_case name
   * ending in `_anomalies`) exactly that date's `rows`: UPSERT by id, rows of the date no longer
   * flagged removed; all dates in one transaction. Ids must be unique within a date.
   */
  replaceAnomalies(table: string, runId: string, dates: readonly DatedAnomalies[]): Promise<void>;
  /** Rows of `table` for one date, sorted by id; empty when the table does not exist yet. */
  listAnomalies(table: string, logicalDate: string): Promise<(AnomalyRow & { runId: string })[]>;
  /** Up to `query.limit` rows of `table` in (date, id) order after `query.after`; empty when the table does not exist yet. */
  listAnomalyPage(table: string, query: AnomalyQuery): Promise<StoredAnomaly[]>;
  /**
   * Makes the predictions of `logicalDate` in `table` (created on first use; a lower_snake_case
   * name ending in `_predictions`) exactly `rows`, all by version `model`, keyed by (date, id): the
   * date's rows replaced in one transaction, so readers see the old rows or the new ones.
   */
  replacePredictions(table: string, logicalDate: string, runId: string, model: ModelRef, rows: PredictionRow[]): Promise<void>;
  /** Predictions of `table` for one date, sorted by id; empty when the table does not exist yet. */
  listPredictions(table: string, logicalDate: string): Promise<StoredPrediction[]>;
  /**
   * Stores a run's quality reports, one per date (replacing those stored before for that run and
   * those dates), all in one transaction.
   */
  recordQualityResults(runId: string, dataset: string, reports: readonly DatedQualityResults[]): Promise<void>;
  /** The quality results of a run (of one of its dates, if given), by date then in report order. */
  listQualityResults(runId: string, logicalDate?: string): Promise<QualityResultRow[]>;
  /** Every run's quality results of `dataset` for the dates in [from, to], by date, run, then report order. */
  listDatasetQuality(dataset: string, from: string, to: string): Promise<DatasetQualityRow[]>;
  /**
   * Reserves the next version of `model.name` for its training run, or returns the version that
   * run already reserved: safe under concurrency, idempotent per (training run, name). A reserved
   * version stays invisible until {@link registerModelVersion}.
   */
  reserveModelVersion(model: NewModelVersion): Promise<ModelVersion>;
  /**
   * Records a reserved version's artifact and metrics, which makes it visible as a candidate (or
   * production, see ModelRegistration.promote). A version already registered is returned as it is.
   */
  registerModelVersion(name: string, version: number, registration: ModelRegistration): Promise<ModelVersion>;
  /** Registered versions, by name then version. */
  listModels(options?: ListModelsOptions): Promise<ModelVersion[]>;
  /** A registered version; NotFoundError otherwise. */
  getModelVersion(name: string, version: number): Promise<ModelVersion>;
  /**
   * Makes a registered version production and archives the one before. `restore` (a rollback)
   * keeps the version's own previous production, so rolling back again goes further back.
   * Promoting the production version changes nothing.
   */
  promoteModel(name: string, version: number, options: { reason: string; restore?: boolean }): Promise<ModelVersion>;
  /** A model's stage changes, oldest first. */
  listModelStages(name: string): Promise<ModelStageChange[]>;
  /**
   * Records a monitor step's findings in one transaction: each (date, version)'s performance
   * replaces the one before (ground truth arriving later recomputes it), each date's drift rows,
   * forecast accuracy rows and counts replace that date's.
   */
  recordMonitoring(pipeline: string, runId: string, report: MonitorReport): Promise<void>;
  /** What monitoring recorded for `pipeline` in [from, to], by date (then model, version, feature; forecasts by detector). */
  listMonitoring(pipeline: string, from: string, to: string): Promise<MonitorReport>;
  /** Records (or replaces) the verdict on an anomaly of a pipeline's date. */
  recordFeedback(feedback: Feedback): Promise<StoredFeedback>;
  /** Verdicts of `pipeline` in [from, to], by date then id. */
  listFeedback(pipeline: string, from: string, to: string): Promise<StoredFeedback[]>;
  /**
   * Moves an alarm to `state` and returns it, when that changes it: firing when it was not, resolved
   * when it was firing. Otherwise (already firing, or nothing to resolve) returns undefined: of
   * several processes evaluating the same alarm at once, exactly one is told to send it.
   */
  changeAlarm(pipeline: string, alarm: string, change: { state: AlarmState; message: string; date: string | null }): Promise<AlarmRecord | undefined>;
  /** Alarms as last changed, by pipeline then name (of one pipeline, if given). */
  listAlarms(pipeline?: string): Promise<AlarmRecord[]>;
  /** Resolves when the database answers a trivial query (readiness checks). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
