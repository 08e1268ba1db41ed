/**
 * Watching a model in production: each date's predictions joined by id with the ground truth that
 * has arrived (late, in any order), measured per model version; their drift from the model's
 * training distributions; what people said of the date's anomalies.
 */
import { brierScore, calibrationTable, driftFrom, logLoss, rocAuc, type ReferenceDistribution } from '../detectors/index.js';
import type { MonitorConfig } from '../config/index.js';
import { addDays } from '../dates.js';
import { sqlIdentifier, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { listPartitionFiles } from '../lake/index.js';
import type { DriftRow, ModelRef, MonitorDay, PerformanceRow } from '../store/index.js';
import type { StepContext } from './context.js';
import { pipelineTables } from './layout.js';
import { loadSupervisedModel, type LoadedSupervisedModel } from './models.js';

/** The name drift rows give the model's own output beside its features. */
export const SCORE_FEATURE = 'score';

/** The dates of a span's monitoring: the predictions and ground truth it reads, around its own dates. */
export interface MonitorWindow {
  /** First and last date of the span. */
  from: string;
  to: string;
  lookbackDays: number;
  windowDays: number;
}

/** The earliest predictions a span reads: those ground truth may still arrive for, and those drift compares. */
function predictionsFrom(window: MonitorWindow): string {
  return addDays(window.from, -Math.max(window.lookbackDays, window.windowDays - 1));
}

/** Reads each listed Parquet file's rows into `table` through `select` (the file's date bound as $1, its path as $2), creating the table from `empty` first. */
async function loadFiles(engine: Engine, context: StepContext, table: string, empty: string, select: string, files: { key: string; date: string }[]): Promise<void> {
  await engine.run(`CREATE OR REPLACE TABLE ${table} AS ${empty}`);
  const paths = await engine.stage(context.lake, files.map((file) => file.key));
  for (let k = 0; k < files.length; k++) {
    try {
      await engine.run(`INSERT INTO ${table} ${select}`, [files[k].date, paths[k]]);
    } catch (error) {
      throw new InputError(`monitor: ${files[k].key}: ${oneLine(error)}`, { cause: error });
    }
  }
}

/**
 * Loads the span's predictions (`predictions`: date, id, probability, model, model_version and
 * the features f0..) and ground truth (`truth`: each id's latest 0/1 label; `actuals`: every
 * ground-truth row with its partition date) into the engine.
 */
export async function loadMonitorTables(engine: Engine, context: StepContext, monitor: MonitorConfig, window: MonitorWindow, features: readonly string[]): Promise<void> {
  const { pipeline } = context.params;
  const predict = pipeline.predict;
  if (predict === undefined) throw new InputError(`run ${context.run.id} has no predict step to monitor`);
  const tables = pipelineTables(context.run.pipeline, pipeline);
  const featureColumns = features.map((_, k) => `f${k}`);
  await loadFiles(
    engine,
    context,
    'predictions',
    `SELECT ''::VARCHAR AS date, ''::VARCHAR AS id, 0::DOUBLE AS probability, ''::VARCHAR AS model, 0::INTEGER AS model_version${featureColumns.map((column) => `, 0::DOUBLE AS ${column}`).join('')} LIMIT 0`,
    `SELECT $1, CAST(${sqlIdentifier(predict.id)} AS VARCHAR), probability, model, model_version${features.map((feature) => `, CAST(${sqlIdentifier(feature)} AS DOUBLE)`).join('')} FROM read_parquet($2)`,
    await listPartitionFiles(context.lake, 'gold', tables.predictionsTable, predictionsFrom(window), window.to),
  );
  const actuals = monitor.actuals;
  const actualFiles =
    actuals === undefined
      ? []
      : await listPartitionFiles(context.lake, pipeline.aggregate.some((step) => step.name === actuals.table) ? 'gold' : 'silver', actuals.table, addDays(window.from, -window.lookbackDays), addDays(window.to, window.lookbackDays));
  await loadFiles(
    engine,
    context,
    'actuals',
    `SELECT ''::VARCHAR AS date, ''::VARCHAR AS id, 0::INTEGER AS label LIMIT 0`,
    actuals === undefined
      ? ''
      : `SELECT $1, id, CAST(label AS INTEGER) FROM (SELECT CAST(${sqlIdentifier(actuals.id)} AS VARCHAR) AS id, TRY_CAST(${sqlIdentifier(actuals.label)} AS DOUBLE) AS label FROM read_parquet($2)) WHERE id IS NOT NULL AND label IN (0, 1)`,
    actualFiles,
  );
  // A label corrected in a later partition wins.
  await engine.run('CREATE OR REPLACE TABLE truth AS SELECT id, arg_max(label, date) AS label FROM actuals GROUP BY id');
}

/** The (date, model version) groups of the predictions in [from, to] (dates as given), in order, with their row counts. */
async function predictionGroups(engine: Engine, from: string, to: string): Promise<{ date: string; model: ModelRef; rows: number; matched: number }[]> {
  const groups = await engine.rows<{ date: string; model: string; model_version: number; rows: number; matched: number }>(
    `SELECT p.date, p.model, p.model_version, CAST(count(*) AS DOUBLE) AS rows, CAST(count(t.label) AS DOUBLE) AS matched
     FROM predictions AS p LEFT JOIN truth AS t ON t.id = p.id WHERE p.date BETWEEN $1 AND $2 GROUP BY ALL ORDER BY ALL`,
    [from, to],
  );
  return groups.map((group) => ({ date: group.date, model: { name: group.model, version: group.model_version }, rows: group.rows, matched: group.matched }));
}

/** How each model version's predictions of each date in [from, to] did against the ground truth loaded. */
export async function measurePerformance(engine: Engine, from: string, to: string): Promise<PerformanceRow[]> {
  const groups = await predictionGroups(engine, from, to);
  // Only numbers cross into JS, matched rows in the groups' order: a group is the next `matched` of them.
  const columns = await engine.columns(
    `SELECT p.probability, CAST(t.label AS DOUBLE) AS label FROM predictions AS p JOIN truth AS t ON t.id = p.id
     WHERE p.date BETWEEN $1 AND $2 ORDER BY p.date, p.model, p.model_version`,
    [from, to],
  );
  const probabilities = Float64Array.from(columns.probability as number[]);
  const labels = Uint8Array.from(columns.label as number[]);
  let start = 0;
  return groups.map((group) => {
    const outcome = labels.subarray(start, start + group.matched);
    const probability = probabilities.subarray(start, start + group.matched);
    start += group.matched;
    const positives = outcome.reduce((sum, label) => sum + label, 0);
    const auc = outcome.length === 0 ? Number.NaN : rocAuc(outcome, probability);
    return {
      date: group.date,
      model: group.model,
      predictions: group.rows,
      matched: outcome.length,
      positives,
      auc: Number.isNaN(auc) ? null : auc,
      logLoss: outcome.length === 0 ? null : logLoss(outcome, probability),
      brier: outcome.length === 0 ? null : brierScore(outcome, probability),
      calibration: calibrationTable(outcome, probability),
    };
  });
}

/** Ground-truth rows of partition `date`, and those whose id no prediction of the look-back window has (counted, never joined). */
export async function countActuals(engine: Engine, date: string, lookbackDays: number): Promise<{ actuals: number; unmatched: number }> {
  const [row] = await engine.rows<{ actuals: number; unmatched: number }>(
    `SELECT CAST(count(*) AS DOUBLE) AS actuals, CAST(count(*) FILTER (WHERE p.id IS NULL) AS DOUBLE) AS unmatched
     FROM actuals AS a LEFT JOIN (SELECT DISTINCT id FROM predictions WHERE date BETWEEN $2 AND $1) AS p ON p.id = a.id
     WHERE a.date = $1`,
    [date, addDays(date, -lookbackDays)],
  );
  return { actuals: row.actuals, unmatched: row.unmatched };
}

/** Loaded versions of the monitored model, each read once per step. */
export class MonitoredVersions {
  readonly #loaded = new Map<number, Promise<LoadedSupervisedModel>>();
  constructor(private readonly context: StepContext) {}

  get(model: ModelRef): Promise<LoadedSupervisedModel> {
    let loaded = this.#loaded.get(model.version);
    if (loaded === undefined) {
      loaded = this.context.store.getModelVersion(model.name, model.version).then((record) => loadSupervisedModel(this.context.lake, record));
      this.#loaded.set(model.version, loaded);
    }
    return loaded;
  }
}

/**
 * Drift of the predictions of [date − windowDays + 1, date], per model version, from that
 * version's training distributions: each feature and the score, once every day of the window has
 * predictions. Versions trained before their files kept a reference are left out; `unmeasured`
 * says what was not measured.
 */
export async function measureDrift(engine: Engine, versions: MonitoredVersions, features: readonly string[], date: string, windowDays: number): Promise<{ rows: DriftRow[]; unmeasured: string[] }> {
  const first = addDays(date, -(windowDays - 1));
  const [{ days }] = await engine.rows<{ days: number }>('SELECT CAST(count(DISTINCT date) AS INTEGER) AS days FROM predictions WHERE date BETWEEN $1 AND $2', [first, date]);
  // A window missing days would compare a few days with the whole training window: too few to say.
  if (days < windowDays) return { rows: [], unmeasured: [`the ${windowDays} days up to ${date} have predictions on ${days}`] };
  const rows: DriftRow[] = [];
  const unmeasured: string[] = [];
  const found = await engine.rows<{ model: string; model_version: number }>('SELECT DISTINCT model, model_version FROM predictions WHERE date BETWEEN $1 AND $2 ORDER BY ALL', [first, date]);
  for (const { model: name, model_version: version } of found) {
    const model = { name, version };
    const reference = (await versions.get(model)).facts.reference;
    if (reference === undefined) {
      unmeasured.push(`${model.name} v${model.version}`);
      continue;
    }
    const columns = await engine.columns(
      `SELECT probability${features.map((_, k) => `, f${k}`).join('')} FROM predictions WHERE date BETWEEN $1 AND $2 AND model = $3 AND model_version = $4`,
      [first, date, model.name, model.version],
    );
    const measured: [string, unknown[], ReferenceDistribution | undefined][] = [...features.map((feature, k): [string, unknown[], ReferenceDistribution | undefined] => [feature, columns[`f${k}`], reference.features[feature]]), [SCORE_FEATURE, columns.probability, reference.score]];
    for (const [feature, values, distribution] of measured) {
      if (distribution === undefined) continue;
      const drift = driftFrom(distribution, Float64Array.from(values as (number | null)[], (value) => value ?? Number.NaN));
      if ('empty' in drift) continue;
      rows.push({ date, model, feature, windowDays, rows: drift.rows, constant: 'constant' in drift, psi: 'psi' in drift ? drift.psi : null, ks: 'ks' in drift ? drift.ks : null });
    }
  }
  return { rows, unmeasured };
}

/** A date's anomalies and people's verdicts on them (or on records they say were missed). */
export async function flagCounts(context: StepContext, date: string): Promise<Pick<MonitorDay, 'flagged' | 'truePositives' | 'falsePositives' | 'falseNegatives'>> {
  const { anomaliesTable } = pipelineTables(context.run.pipeline, context.params.pipeline);
  const [anomalies, feedback] = await Promise.all([context.store.listAnomalies(anomaliesTable, date), context.store.listFeedback(context.run.pipeline, date, date)]);
  const verdicts = (verdict: string) => feedback.filter((row) => row.verdict === verdict).length;
  return { flagged: anomalies.length, truePositives: verdicts('true_positive'), falsePositives: verdicts('false_positive'), falseNegatives: verdicts('false_negative') };
}
