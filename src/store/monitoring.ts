/**
 * The monitoring tables' statements: per (date, model version) performance against ground truth,
 * per (date, version, feature) drift, per (date, detector, version) forecast accuracy, per-date
 * counts, people's verdicts on anomalies, and alarm states. Rows travel as one array per column (unnest), every value bound.
 */
import { parsedJson, type SqlClient, type SqlQueryable } from './sql-client.js';
import type { AlarmRecord, AlarmState, CalibrationRow, Feedback, FeedbackVerdict, ForecastRow, MonitorReport, StoredFeedback } from './store.js';

/** bigint columns come back as numbers, strings or BigInts depending on the driver. */
const count = (value: number | string | bigint): number => Number(value);

export async function recordMonitoring(client: SqlClient, pipeline: string, runId: string, report: MonitorReport): Promise<void> {
  const { performance, drift, days, forecasts } = report;
  await client.transaction(async (tx) => {
    if (performance.length > 0) {
      await tx.query(
        `INSERT INTO detour_monitor_performance (pipeline, logical_date, model, model_version, predictions, matched, positives, auc, log_loss, brier, calibration, run_id, updated_at)
         SELECT $1, r.logical_date, r.model, r.model_version, r.predictions, r.matched, r.positives, r.auc, r.log_loss, r.brier, r.calibration::jsonb, $2, now()
         FROM unnest($3::date[], $4::text[], $5::integer[], $6::bigint[], $7::bigint[], $8::bigint[], $9::double precision[], $10::double precision[], $11::double precision[], $12::text[])
           AS r(logical_date, model, model_version, predictions, matched, positives, auc, log_loss, brier, calibration)
         ON CONFLICT (pipeline, logical_date, model, model_version) DO UPDATE SET
           predictions = EXCLUDED.predictions, matched = EXCLUDED.matched, positives = EXCLUDED.positives, auc = EXCLUDED.auc,
           log_loss = EXCLUDED.log_loss, brier = EXCLUDED.brier, calibration = EXCLUDED.calibration, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at`,
        [
          pipeline,
          runId,
          performance.map((row) => row.date),
          performance.map((row) => row.model.name),
          performance.map((row) => row.model.version),
          performance.map((row) => row.predictions),
          performance.map((row) => row.matched),
          performance.map((row) => row.positives),
          performance.map((row) => row.auc),
          performance.map((row) => row.logLoss),
          performance.map((row) => row.brier),
          performance.map((row) => JSON.stringify(row.calibration)),
        ],
      );
    }
    const driftDates = [...new Set(drift.map((row) => row.date))];
    await tx.query('DELETE FROM detour_monitor_drift WHERE pipeline = $1 AND logical_date = ANY($2::date[])', [pipeline, driftDates]);
    if (drift.length > 0) {
      await tx.query(
        `INSERT INTO detour_monitor_drift (pipeline, logical_date, model, model_version, feature, window_days, rows, constant, psi, ks, run_id, updated_at)
         SELECT $1, r.logical_date, r.model, r.model_version, r.feature, r.window_days, r.rows, r.constant, r.psi, r.ks, $2, now()
         FROM unnest($3::date[], $4::text[], $5::integer[], $6::text[], $7::integer[], $8::bigint[], $9::boolean[], $10::double precision[], $11::double precision[])
           AS r(logical_date, model, model_version, feature, window_days, rows, constant, psi, ks)`,
        [
          pipeline,
          runId,
          drift.map((row) => row.date),
          drift.map((row) => row.model.name),
          drift.map((row) => row.model.version),
          drift.map((row) => row.feature),
          drift.map((row) => row.windowDays),
          drift.map((row) => row.rows),
          drift.map((row) => row.constant),
          drift.map((row) => row.psi),
          drift.map((row) => row.ks),
        ],
      );
    }
    await recordForecasts(tx, pipeline, runId, forecasts);
    if (days.length > 0) {
      await tx.query(
        `INSERT INTO detour_monitor_days (pipeline, logical_date, actuals, unmatched_actuals, flagged, true_positives, false_positives, false_negatives, run_id, updated_at)
         SELECT $1, r.logical_date, r.actuals, r.unmatched_actuals, r.flagged, r.true_positives, r.false_positives, r.false_negatives, $2, now()
         FROM unnest($3::date[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
           AS r(logical_date, actuals, unmatched_actuals, flagged, true_positives, false_positives, false_negatives)
         ON CONFLICT (pipeline, logical_date) DO UPDATE SET
           actuals = EXCLUDED.actuals, unmatched_actuals = EXCLUDED.unmatched_actuals, flagged = EXCLUDED.flagged, true_positives = EXCLUDED.true_positives,
           false_positives = EXCLUDED.false_positives, false_negatives = EXCLUDED.false_negatives, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at`,
        [
          pipeline,
          runId,
          days.map((day) => day.date),
          days.map((day) => day.actuals),
          days.map((day) => day.unmatchedActuals),
          days.map((day) => day.flagged),
          days.map((day) => day.truePositives),
          days.map((day) => day.falsePositives),
          days.map((day) => day.falseNegatives),
        ],
      );
    }
  });
}

/** Replaces the forecast accuracy of the dates `forecasts` has rows for. */
async function recordForecasts(tx: SqlQueryable, pipeline: string, runId: string, forecasts: readonly ForecastRow[]): Promise<void> {
  if (forecasts.length === 0) return;
  await tx.query('DELETE FROM detour_monitor_forecasts WHERE pipeline = $1 AND logical_date = ANY($2::date[])', [pipeline, [...new Set(forecasts.map((row) => row.date))]]);
  await tx.query(
    `INSERT INTO detour_monitor_forecasts (pipeline, logical_date, detector, model, model_version, points, mae, mape_points, mape, run_id, updated_at)
     SELECT $1, r.logical_date, r.detector, r.model, r.model_version, r.points, r.mae, r.mape_points, r.mape, $2, now()
     FROM unnest($3::date[], $4::text[], $5::text[], $6::integer[], $7::bigint[], $8::double precision[], $9::bigint[], $10::double precision[])
       AS r(logical_date, detector, model, model_version, points, mae, mape_points, mape)`,
    [
      pipeline,
      runId,
      forecasts.map((row) => row.date),
      forecasts.map((row) => row.detector),
      forecasts.map((row) => row.model?.name ?? null),
      forecasts.map((row) => row.model?.version ?? null),
      forecasts.map((row) => row.points),
      forecasts.map((row) => row.mae),
      forecasts.map((row) => row.mapePoints),
      forecasts.map((row) => row.mape),
    ],
  );
}

interface PerformanceTableRow {
  logical_date: string;
  model: string;
  model_version: number;
  predictions: number | string | bigint;
  matched: number | string | bigint;
  positives: number | string | bigint;
  auc: number | null;
  log_loss: number | null;
  brier: number | null;
  calibration: CalibrationRow[] | string;
}

interface DriftTableRow {
  logical_date: string;
  model: string;
  model_version: number;
  feature: string;
  window_days: number;
  rows: number | string | bigint;
  constant: boolean;
  psi: number | null;
  ks: number | null;
}

interface DayTableRow {
  logical_date: string;
  actuals: number | string | bigint;
  unmatched_actuals: number | string | bigint;
  flagged: number | string | bigint;
  true_positives: number | string | bigint;
  false_positives: number | string | bigint;
  false_negatives: number | string | bigint;
}

interface ForecastTableRow {
  logical_date: string;
  detector: string;
  model: string | null;
  model_version: number | null;
  points: number | string | bigint;
  mae: number;
  mape_points: number | string | bigint;
  mape: number | null;
}

const DATE = `to_char(logical_date, 'YYYY-MM-DD') AS logical_date`;
const RANGE = 'pipeline = $1 AND logical_date BETWEEN $2::date AND $3::date';

export async function listMonitoring(client: SqlQueryable, pipeline: string, from: string, to: string): Promise<MonitorReport> {
  const params = [pipeline, from, to];
  const [performance, drift, days, forecasts] = await Promise.all([
    client.query<PerformanceTableRow>(`SELECT ${DATE}, model, model_version, predictions, matched, positives, auc, log_loss, brier, calibration FROM detour_monitor_performance WHERE ${RANGE} ORDER BY logical_date, model, model_version`, params),
    client.query<DriftTableRow>(`SELECT ${DATE}, model, model_version, feature, window_days, rows, constant, psi, ks FROM detour_monitor_drift WHERE ${RANGE} ORDER BY logical_date, model, model_version, feature COLLATE "C"`, params),
    client.query<DayTableRow>(`SELECT ${DATE}, actuals, unmatched_actuals, flagged, true_positives, false_positives, false_negatives FROM detour_monitor_days WHERE ${RANGE} ORDER BY logical_date`, params),
    client.query<ForecastTableRow>(
      `SELECT ${DATE}, detector, model, model_version, points, mae, mape_points, mape FROM detour_monitor_forecasts WHERE ${RANGE} ORDER BY logical_date, detector COLLATE "C", model COLLATE "C" NULLS FIRST, model_version NULLS FIRST`,
      params,
    ),
  ]);
  return {
    performance: performance.map((row) => ({
      date: row.logical_date,
      model: { name: row.model, version: row.model_version },
      predictions: count(row.predictions),
      matched: count(row.matched),
      positives: count(row.positives),
      auc: row.auc,
      logLoss: row.log_loss,
      brier: row.brier,
      calibration: parsedJson(row.calibration),
    })),
    drift: drift.map((row) => ({ date: row.logical_date, model: { name: row.model, version: row.model_version }, feature: row.feature, windowDays: row.window_days, rows: count(row.rows), constant: row.constant, psi: row.psi, ks: row.ks })),
    days: days.map((row) => ({
      date: row.logical_date,
      actuals: count(row.actuals),
      unmatchedActuals: count(row.unmatched_actuals),
      flagged: count(row.flagged),
      truePositives: count(row.true_positives),
      falsePositives: count(row.false_positives),
      falseNegatives: count(row.false_negatives),
    })),
    forecasts: forecasts.map((row) => ({
      date: row.logical_date,
      detector: row.detector,
      model: row.model === null || row.model_version === null ? null : { name: row.model, version: row.model_version },
      points: count(row.points),
      mae: row.mae,
      mapePoints: count(row.mape_points),
      mape: row.mape,
    })),
  };
}

interface FeedbackTableRow {
  pipeline: string;
  logical_date: string;
  anomaly_id: string;
  verdict: FeedbackVerdict;
  note: string | null;
  recorded_by: string | null;
  recorded_at: Date;
}

const FEEDBACK_COLUMNS = `pipeline, ${DATE}, anomaly_id, verdict, note, recorded_by, recorded_at`;

function toFeedback(row: FeedbackTableRow): StoredFeedback {
  return { pipeline: row.pipeline, date: row.logical_date, anomalyId: row.anomaly_id, verdict: row.verdict, note: row.note, recordedBy: row.recorded_by, recordedAt: row.recorded_at };
}

export async function recordFeedback(client: SqlQueryable, feedback: Feedback): Promise<StoredFeedback> {
  const [row] = await client.query<FeedbackTableRow>(
    `INSERT INTO detour_feedback (pipeline, logical_date, anomaly_id, verdict, note, recorded_by, recorded_at) VALUES ($1, $2::date, $3, $4, $5, $6, now())
     ON CONFLICT (pipeline, logical_date, anomaly_id) DO UPDATE SET verdict = EXCLUDED.verdict, note = EXCLUDED.note, recorded_by = EXCLUDED.recorded_by, recorded_at = EXCLUDED.recorded_at
     RETURNING ${FEEDBACK_COLUMNS}`,
    [feedback.pipeline, feedback.date, feedback.anomalyId, feedback.verdict, feedback.note ?? null, feedback.recordedBy ?? null],
  );
  return toFeedback(row);
}

export async function listFeedback(client: SqlQueryable, pipeline: string, from: string, to: string): Promise<StoredFeedback[]> {
  const rows = await client.query<FeedbackTableRow>(`SELECT ${FEEDBACK_COLUMNS} FROM detour_feedback WHERE ${RANGE} ORDER BY logical_date, anomaly_id COLLATE "C"`, [pipeline, from, to]);
  return rows.map(toFeedback);
}

interface AlarmTableRow {
  pipeline: string;
  alarm: string;
  state: AlarmState;
  message: string;
  logical_date: string | null;
  changed_at: Date;
}

const ALARM_COLUMNS = `pipeline, alarm, state, message, to_char(logical_date, 'YYYY-MM-DD') AS logical_date, changed_at`;

function toAlarm(row: AlarmTableRow): AlarmRecord {
  return { pipeline: row.pipeline, alarm: row.alarm, state: row.state, message: row.message, date: row.logical_date, changedAt: row.changed_at };
}

/**
 * One statement, so that the row's lock decides between concurrent callers: firing inserts or
 * updates only a row not firing; resolving updates only a firing row. RETURNING tells the caller
 * whether it changed anything.
 */
export async function changeAlarm(client: SqlQueryable, pipeline: string, alarm: string, change: { state: AlarmState; message: string; date: string | null }): Promise<AlarmRecord | undefined> {
  const params = [pipeline, alarm, change.state, change.message, change.date];
  const rows =
    change.state === 'firing'
      ? await client.query<AlarmTableRow>(
          `INSERT INTO detour_alarms (pipeline, alarm, state, message, logical_date, changed_at) VALUES ($1, $2, $3, $4, $5::date, now())
           ON CONFLICT (pipeline, alarm) DO UPDATE SET state = EXCLUDED.state, message = EXCLUDED.message, logical_date = EXCLUDED.logical_date, changed_at = EXCLUDED.changed_at
           WHERE detour_alarms.state <> 'firing'
           RETURNING ${ALARM_COLUMNS}`,
          params,
        )
      : await client.query<AlarmTableRow>(
          `UPDATE detour_alarms SET state = $3, message = $4, logical_date = $5::date, changed_at = now() WHERE pipeline = $1 AND alarm = $2 AND state = 'firing' RETURNING ${ALARM_COLUMNS}`,
          params,
        );
  return rows.length === 0 ? undefined : toAlarm(rows[0]);
}

export async function listAlarms(client: SqlQueryable, pipeline?: string): Promise<AlarmRecord[]> {
  const rows = await client.query<AlarmTableRow>(`SELECT ${ALARM_COLUMNS} FROM detour_alarms WHERE $1::text IS NULL OR pipeline = $1 ORDER BY pipeline, alarm`, [pipeline ?? null]);
  return rows.map(toAlarm);
}
