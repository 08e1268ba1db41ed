import type { DetectStepConfig, SeriesStepConfig } from '../config/index.js';
import { arimaLabel, detectArimaAnomalies, detectShallow, fitAndScoreIsolationForest, noVerdicts, outlierLabels, type RowScores } from '../detectors/index.js';
import type { AnomalyRow } from '../store/index.js';
import { featureRowsOf, rowsByEntity, tableRows, type SeriesTable } from './entity-rows.js';
import { ForecastErrors, isForecaster, type ForecastErrorSums } from './forecast-errors.js';
import { labelledIncidentsByDate, type LabelledIncidents } from './labelled-incidents.js';
import type { LoadedModel } from './models.js';
import { round } from './rounding.js';

/** One detector's verdict on one entity-day: a published anomaly before it gets its id. */
export type Finding = Omit<AnomalyRow, 'id' | 'detector' | 'attributes'> & {
  detector: string;
  date: string;
  /** The registered model version that scored it, when one did. */
  model?: { name: string; version: number };
  /** How many records stand behind the value (the step's `support` column), when the step has one. */
  support?: { column: string; records: number };
};

/**
 * The rows of `table` with at least `minSupport` records behind them (all rows when the step has
 * no support column), and the entities left with none, skipped with why.
 */
export function supportedRows(step: Pick<SeriesStepConfig, 'support' | 'minSupport'> & { detector: string }, table: SeriesTable): { table: SeriesTable; skipped: SeriesDetection['skipped'] } {
  const { support, minSupport } = step;
  if (support === undefined || minSupport === undefined) return { table, skipped: [] };
  const records = table.values[support];
  const kept = table.entity.map((_, row) => row).filter((row) => records[row] >= minSupport);
  const keptEntities = new Set(kept.map((row) => table.entity[row]));
  const dropped = [...new Set(table.entity)].filter((entity) => !keptEntities.has(entity)).sort();
  return {
    table: tableRows(table, kept),
    skipped: dropped.map((entity) => ({ entity, reason: `${step.detector}: fewer than ${minSupport} ${support} on every day` })),
  };
}

/** " over 23 flights" after a value, and the finding's support, when the step has a support column. */
function supportOf(step: Pick<SeriesStepConfig, 'support'>, table: SeriesTable, row: number): { text: string; support?: Finding['support'] } {
  if (step.support === undefined) return { text: '' };
  const records = table.values[step.support][row];
  return { text: ` over ${records.toFixed(0)} ${step.support}`, support: { column: step.support, records } };
}

export interface SeriesDetection {
  findings: Finding[];
  /** Entities no model could be fitted for, with why. */
  skipped: { entity: string; reason: string }[];
  /** With labelled rows: how the flags compare with the labels, per date. */
  labelled?: Map<string, LabelledIncidents>;
  /** Forecasting detectors: how each date's forecasts matched every point's value. */
  forecasts?: ForecastErrorSums[];
}

const DAY_MS = 86_400_000;

function dayNumber(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

function dayOf(dayNumber: number): string {
  return new Date(dayNumber * DAY_MS).toISOString().slice(0, 10);
}

/** Beyond this magnitude a value's square is no float: no Gaussian likelihood of a series holding it is finite. */
const LARGEST_SQUARABLE = Math.sqrt(Number.MAX_VALUE);

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/**
 * ARIMA per entity over a daily series from `windowStart` to `to` (missing days are NaN): each day
 * of [from, to] outside its one-step-ahead prediction interval is a finding.
 */
function detectWithArima(step: Extract<DetectStepConfig, { detector: 'arima' }>, table: SeriesTable, from: string, to: string, windowStart: string): SeriesDetection {
  const findings: Finding[] = [];
  const skipped: SeriesDetection['skipped'] = [];
  const errors = new ForecastErrors();
  const start = dayNumber(windowStart);
  const length = dayNumber(to) - start + 1;
  const firstFlagged = dayNumber(from) - start;
  const values = table.values[step.value];
  for (const [entity, rows] of rowsByEntity(table)) {
    const series = new Float64Array(length).fill(Number.NaN);
    for (const row of rows) series[dayNumber(table.day[row]) - start] = values[row];
    const result = detectArimaAnomalies(series, {
      maxP: step.maxP,
      maxQ: step.maxQ,
      order: step.order,
      intervalSigmas: step.intervalSigmas,
      minHistory: step.minHistory,
      period: step.period,
    });
    if (result.skipped) {
      // The fit's own reason cannot say which day made it fail; a value too large to square can.
      const tooLarge = series.findIndex((value) => Math.abs(value) > LARGEST_SQUARABLE);
      const why = tooLarge < 0 ? result.skipped.message : `${step.value} ${series[tooLarge]} on ${dayOf(start + tooLarge)} is too large to model (${result.skipped.message})`;
      skipped.push({ entity, reason: `arima: ${why}` });
      continue;
    }
    // A series not skipped has its model.
    const model = arimaLabel(result.model!);
    const rowOfDay = new Map(rows.map((row) => [dayNumber(table.day[row]) - start, row]));
    const first = Math.max(0, firstFlagged);
    errors.addPoints('arima', undefined, (k) => dayOf(start + first + k), series.subarray(first), result.expected.subarray(first));
    for (let t = first; t < length; t++) {
      if (result.isAnomaly[t] !== 1) continue;
      const direction = series[t] > result.expected[t] ? 'above' : 'below';
      const support = supportOf(step, table, rowOfDay.get(t) as number);
      findings.push({
        detector: 'arima',
        entity,
        date: dayOf(start + t),
        value: series[t],
        expected: round(result.expected[t], 4),
        lower: round(result.lower[t], 4),
        upper: round(result.upper[t], 4),
        score: round(result.score[t], 4),
        reason: `${step.value} ${format(series[t])}${support.text} is ${Math.abs(result.zScore[t]).toFixed(1)}σ ${direction} the ${model} forecast ${format(result.expected[t])} for ${entity} (band ${format(result.lower[t])}–${format(result.upper[t])})`,
        ...(support.support === undefined ? {} : { support: support.support }),
      });
    }
  }
  return { findings, skipped, forecasts: errors.sums() };
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Isolation Forest fitted on every entity-day of the window; rows of [from, to] it labels as
 * outliers are findings, explained against the entity's usual range (10th–90th percentile of its
 * inlier days) of the first feature.
 */
function detectWithIsolationForest(step: Extract<DetectStepConfig, { detector: 'iforest' }>, table: SeriesTable, from: string, to: string): SeriesDetection {
  const complete = table.day.map((_, row) => row).filter((row) => step.features.every((feature) => Number.isFinite(table.values[feature][row])));
  if (complete.length < 2) return { findings: [], skipped: [{ entity: '*', reason: `iforest: ${complete.length} complete rows, too few to fit` }] };
  const columns = step.features.map((feature) => Float64Array.from(complete, (row) => table.values[feature][row]));
  const { model, sampleScores } = fitAndScoreIsolationForest(columns, {
    nEstimators: step.trees,
    maxSamples: step.maxSamples,
    seed: step.seed,
    contamination: step.contamination,
  });
  const labels = outlierLabels(model, sampleScores);
  const [primary] = step.features;
  const usual = new Map<string, number[]>();
  complete.forEach((row, k) => {
    if (labels[k] === -1) return;
    const entity = table.entity[row];
    const values = usual.get(entity);
    if (values) values.push(table.values[primary][row]);
    else usual.set(entity, [table.values[primary][row]]);
  });
  const findings: Finding[] = [];
  complete.forEach((row, k) => {
    const date = table.day[row];
    if (labels[k] !== -1 || date < from || date > to) return;
    const entity = table.entity[row];
    const typical = Float64Array.from(usual.get(entity) ?? []).sort();
    // The paper's anomaly score is sklearn's score_samples negated.
    const score = -sampleScores[k];
    const value = table.values[primary][row];
    const [low, median, high] = [quantile(typical, 0.1), quantile(typical, 0.5), quantile(typical, 0.9)];
    const others = step.features.slice(1).filter((feature) => feature !== step.support).map((feature) => `${feature} ${format(table.values[feature][row])}`);
    const support = supportOf(step, table, row);
    const usualText = Number.isNaN(median) ? 'no usual days to compare' : `usual for ${entity} ${format(low)}–${format(high)}`;
    findings.push({
      detector: 'iforest',
      entity,
      date,
      value,
      expected: Number.isNaN(median) ? null : round(median, 4),
      lower: Number.isNaN(low) ? null : round(low, 4),
      upper: Number.isNaN(high) ? null : round(high, 4),
      score: round(score, 4),
      reason: `isolation score ${score.toFixed(2)}: ${primary} ${format(value)}${support.text} (${usualText})${others.length > 0 ? `, ${others.join(', ')}` : ''}`,
      ...(support.support === undefined ? {} : { support: support.support }),
    });
  });
  return { findings, skipped: [] };
}

/**
 * Runs one detect step over an aggregate table covering [windowStart, to]; findings only for
 * [from, to]. Rows with fewer than `minSupport` records behind them are neither learnt from nor flagged.
 */
export function detectSeries(step: SeriesStepConfig, table: SeriesTable, range: { from: string; to: string; windowStart: string }): SeriesDetection {
  const supported = supportedRows(step, table);
  const detection =
    step.detector === 'arima'
      ? detectWithArima(step, supported.table, range.from, range.to, range.windowStart)
      : detectWithIsolationForest(step, supported.table, range.from, range.to);
  return { ...detection, skipped: [...supported.skipped, ...detection.skipped] };
}

const nullable = (value: number) => (Number.isFinite(value) ? round(value, 4) : null);

/**
 * rb-aioutliers' shallow model over an entity's rows, one day at a time (it flags about 1% of what
 * it is given, so a day is its unit); days with fewer than 2 values get no verdict.
 */
function shallowRowScores(table: SeriesTable, rows: readonly number[], feature: string): RowScores {
  const count = rows.length;
  const scores = noVerdicts(count);
  for (let start = 0, end = 0; start < count; start = end) {
    while (end < count && table.day[rows[end]] === table.day[rows[start]]) end++;
    const dayRows = rows.slice(start, end);
    const values = Float64Array.from(dayRows, (row) => table.values[feature][row]);
    if (values.filter((value) => value === value).length < 2) continue;
    const shallow = detectShallow(Float64Array.from(dayRows, (row) => table.timeMs[row]), values);
    scores.score.set(shallow.score, start);
    scores.anomalous.set(shallow.isAnomaly, start);
    scores.expected.set(shallow.expected, start);
  }
  return scores;
}

/** Who scored an entity's rows, as its findings say. */
export interface Scorer {
  detector: string;
  /** The end of each finding's reason: `model bus_iforest/B3 v2`. */
  note: string;
  model?: { name: string; version: number };
}

/** A step scoring rows with models: the columns they take, the first the finding's value, and its support column. */
export interface ScoredStep {
  detector: string;
  features: readonly string[];
  support?: string;
  /** The registered model's name without its entity: forecast errors are summed per its version over every entity. */
  model?: string;
}

/** One finding per day with anomalous rows: the most anomalous row of it. */
export function dayFindings(step: ScoredStep, table: SeriesTable, entity: string, rows: readonly number[], scores: RowScores, scorer: Scorer): Finding[] {
  const [primary] = step.features;
  const worstOfDay = new Map<string, { k: number; count: number }>();
  rows.forEach((row, k) => {
    if (scores.anomalous[k] !== 1) return;
    const worst = worstOfDay.get(table.day[row]);
    if (worst === undefined) worstOfDay.set(table.day[row], { k, count: 1 });
    else worstOfDay.set(table.day[row], { k: scores.score[k] > scores.score[worst.k] ? k : worst.k, count: worst.count + 1 });
  });
  return [...worstOfDay.values()].map(({ k, count }) => {
    const row = rows[k];
    const value = table.values[primary][row];
    const usual = Number.isFinite(scores.lower[k]) && Number.isFinite(scores.upper[k]) ? ` (usual for ${entity} ${format(scores.lower[k])}–${format(scores.upper[k])})` : '';
    const others = step.features.slice(1).filter((feature) => feature !== step.support).map((feature) => `, ${feature} ${format(table.values[feature][row])}`).join('');
    const support = supportOf(step, table, row);
    return {
      detector: scorer.detector,
      entity,
      date: table.day[row],
      value,
      expected: nullable(scores.expected[k]),
      lower: nullable(scores.lower[k]),
      upper: nullable(scores.upper[k]),
      score: round(scores.score[k], 4),
      reason: `${scorer.detector} score ${scores.score[k].toFixed(2)}: ${primary} ${format(value)}${support.text}${usual}${others}${count > 1 ? ` (the worst of ${count} anomalous rows that day)` : ''}; ${scorer.note}`,
      ...(scorer.model === undefined ? {} : { model: scorer.model }),
      ...(support.support === undefined ? {} : { support: support.support }),
    };
  });
}

/** What to do with an entity that has no model. */
export interface WithoutModel {
  /** Why it has none: the skip reason, or with `shallow` the end of its findings' reasons. */
  reason: (entity: string) => string;
  /** Score it with rb-aioutliers' shallow model, which needs no training. */
  shallow: boolean;
}

/**
 * Scores each entity's rows with its registered model (`models`, by entity); the days with rows the
 * model calls anomalous are findings that name the model version, one per entity and day (the most
 * anomalous row of it, for tables finer than a day). Entities without a model are scored by the
 * shallow model or skipped, as `withoutModel` says. With labelled rows in the table, the flags are
 * compared with the labels per date.
 */
export function detectWithModels(step: ScoredStep, table: SeriesTable, models: Map<string, LoadedModel>, withoutModel: WithoutModel): SeriesDetection {
  const findings: Finding[] = [];
  const skipped: SeriesDetection['skipped'] = [];
  const errors = new ForecastErrors();
  const flagged = new Uint8Array(table.entity.length);
  for (const [entity, rows] of rowsByEntity(table)) {
    const loaded = models.get(entity);
    let scores: RowScores;
    let scorer: Scorer;
    if (loaded !== undefined) {
      const { name, version } = loaded.record;
      scores = loaded.detector.score(loaded.model, featureRowsOf(table, rows, step.features));
      scorer = { detector: step.detector, note: `model ${name} v${version}`, model: { name, version } };
    } else if (withoutModel.shallow) {
      scores = shallowRowScores(table, rows, step.features[0]);
      scorer = { detector: 'shallow', note: `shallow model: ${withoutModel.reason(entity)}` };
    } else {
      skipped.push({ entity, reason: withoutModel.reason(entity) });
      continue;
    }
    rows.forEach((row, k) => (flagged[row] = scores.anomalous[k]));
    if (isForecaster(scorer.detector)) {
      const model = scorer.model === undefined ? undefined : { name: step.model ?? scorer.model.name, version: scorer.model.version };
      errors.addPoints(scorer.detector, model, (k) => table.day[rows[k]], Float64Array.from(rows, (row) => table.values[step.features[0]][row]), scores.expected);
    }
    findings.push(...dayFindings(step, table, entity, rows, scores, scorer));
  }
  return { findings, skipped, forecasts: errors.sums(), ...(table.labelledKind === undefined ? {} : { labelled: labelledIncidentsByDate(table, flagged) }) };
}
