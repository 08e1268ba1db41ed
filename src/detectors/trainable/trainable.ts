/**
 * Detectors that learn a model once and score with it later: a training run fits one per entity,
 * the registry keeps its artifact, detect steps score new rows with it. A detector joins by
 * implementing {@link TrainableDetector} in one adapter file and being listed in `index.ts`.
 */
import type { z } from 'zod';

/** Rows of one entity in time order: one Float64Array per feature, all of one length (NaN = missing). */
export interface FeatureRows {
  features: readonly string[];
  columns: readonly Float64Array[];
  /** Each row's time, epoch milliseconds (UTC): what a series detector places its points by. */
  timestampsMs: Float64Array;
}

/** What fitting measured. `validation_loss` (lower is better) is what promotion compares. */
export interface ModelMetrics {
  validation_loss: number;
  [metric: string]: number;
}

/** A fitted model as JSON-ready data with its metrics, or why none could be fitted (too few rows, a constant series). */
export type FitOutcome<Artifact> = { artifact: Artifact; metrics: ModelMetrics } | { skipped: string };

/** A model's verdict on each row (NaN where it has none, e.g. a row with a missing value). */
export interface RowScores {
  /** 0..1, higher is more anomalous. */
  score: Float64Array;
  /** 1 where the row is an anomaly. */
  anomalous: Uint8Array;
  /** What the model expected of the first feature, and the band it considers usual. */
  expected: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
}

/** Scores of `count` rows before any verdict: NaN scores and bands, nothing anomalous. */
export function noVerdicts(count: number): RowScores {
  const unknown = () => new Float64Array(count).fill(Number.NaN);
  return { score: unknown(), anomalous: new Uint8Array(count), expected: unknown(), lower: unknown(), upper: unknown() };
}

/**
 * A detector with a fit/score lifecycle. `Artifact` is what is stored (plain JSON), `Model` what
 * scoring uses (typed arrays), {@link load} the checked way from one to the other.
 *
 * @example
 * const detector = trainableDetector('iforest');
 * const params = detector.params.parse({ trees: 200 });
 * const fitted = detector.fit(training, validation, params);
 * if (!('skipped' in fitted)) detector.score(detector.load(JSON.parse(JSON.stringify(fitted.artifact))), todayRows);
 */
export interface TrainableDetector<Params = unknown, Artifact = unknown, Model = unknown> {
  /** The name training and detect steps give as `detector`. */
  readonly name: string;
  /** The step's `params`, checked, with defaults filled in. */
  readonly params: z.ZodType<Params>;
  /** Fits on `training`, measures on `validation` (the rows after it in time). */
  fit(training: FeatureRows, validation: FeatureRows, params: Params): FitOutcome<Artifact>;
  /** A stored artifact (parsed JSON) back to a model; InputError when it is malformed. */
  load(artifact: unknown): Model;
  score(model: Model, rows: FeatureRows): RowScores;
}

/** Where `count` rows in time order split into training and the most recent `share` for validation (at least one row each). */
export function holdOutCut(count: number, share: number): number {
  return count - Math.min(Math.max(1, Math.round(count * share)), Math.max(0, count - 1));
}

/** The first `1 - share` of the rows to train on and the rest, the most recent, to validate with (at least one row each). */
export function holdOut(rows: FeatureRows, share: number): { training: FeatureRows; validation: FeatureRows } {
  const cut = holdOutCut(rows.columns[0]?.length ?? 0, share);
  return {
    training: { features: rows.features, columns: rows.columns.map((column) => column.subarray(0, cut)), timestampsMs: rows.timestampsMs.subarray(0, cut) },
    validation: { features: rows.features, columns: rows.columns.map((column) => column.subarray(cut)), timestampsMs: rows.timestampsMs.subarray(cut) },
  };
}

/** Row indices where every feature has a value. */
export function completeRows(rows: FeatureRows): number[] {
  const count = rows.columns[0]?.length ?? 0;
  const complete: number[] = [];
  for (let row = 0; row < count; row++) if (rows.columns.every((column) => Number.isFinite(column[row]))) complete.push(row);
  return complete;
}

/** The columns of `rows` at `indices` only. */
export function pickRows(rows: FeatureRows, indices: readonly number[]): Float64Array[] {
  return rows.columns.map((column) => Float64Array.from(indices, (row) => column[row]));
}
