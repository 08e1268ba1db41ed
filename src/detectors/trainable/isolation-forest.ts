/** Isolation Forest per entity as a {@link TrainableDetector}: the forest as JSON plus the entity's usual range. */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { anomalyScores, fitAndScoreIsolationForest, isolationForestFromJSON, isolationForestToJSON, outlierLabels, scoreSamples } from '../isolation-forest/index.js';
import type { IsolationForestJson, IsolationForestModel } from '../isolation-forest/index.js';
import { completeRows, pickRows, type FeatureRows, type FitOutcome, type RowScores, type TrainableDetector } from './trainable.js';

const ParamsSchema = z
  .object({
    trees: z.number().int().min(1).default(100),
    maxSamples: z.number().int().min(2).default(256),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    contamination: z.union([z.literal('auto'), z.number().gt(0).max(0.5)]).default(0.01),
  })
  .strict();
export type IsolationForestParams = z.infer<typeof ParamsSchema>;

/** The first feature's 10th, 50th and 90th percentile over the training rows the forest calls inliers (null: none). */
interface UsualRange {
  low: number | null;
  median: number | null;
  high: number | null;
}

export interface IsolationForestArtifact {
  forest: IsolationForestJson;
  usual: UsualRange;
}

interface LoadedIsolationForest {
  forest: IsolationForestModel;
  usual: UsualRange;
}

function quantile(sorted: Float64Array, q: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function mean(values: Float64Array): number {
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

function fit(training: FeatureRows, validation: FeatureRows, params: IsolationForestParams): FitOutcome<IsolationForestArtifact> {
  const trainRows = completeRows(training);
  if (trainRows.length < 2) return { skipped: `${trainRows.length} complete training rows, too few to fit` };
  const validationRows = completeRows(validation);
  if (validationRows.length === 0) return { skipped: 'no complete rows to validate with' };
  const columns = pickRows(training, trainRows);
  const { model, sampleScores } = fitAndScoreIsolationForest(columns, { nEstimators: params.trees, maxSamples: params.maxSamples, seed: params.seed, contamination: params.contamination });
  const labels = outlierLabels(model, sampleScores);
  const inliers = Float64Array.from(columns[0].filter((_, row) => labels[row] === 1)).sort();
  const validationColumns = pickRows(validation, validationRows);
  const validationLabels = outlierLabels(model, scoreSamples(model, validationColumns));
  return {
    artifact: { forest: isolationForestToJSON(model), usual: { low: quantile(inliers, 0.1), median: quantile(inliers, 0.5), high: quantile(inliers, 0.9) } },
    metrics: {
      // The paper's score of held-out recent rows: a model that finds them normal generalises.
      validation_loss: mean(anomalyScores(model, validationColumns)),
      validation_outlier_share: validationLabels.filter((label) => label === -1).length / validationLabels.length,
      training_rows: trainRows.length,
      validation_rows: validationRows.length,
    },
  };
}

function load(artifact: unknown): LoadedIsolationForest {
  if (typeof artifact !== 'object' || artifact === null) throw new InputError('isolation forest artifact: expected an object');
  const { forest, usual } = artifact as Partial<IsolationForestArtifact>;
  const bound = (value: unknown): number | null => {
    if (value === null || (typeof value === 'number' && Number.isFinite(value))) return value;
    throw new InputError(`isolation forest artifact: usual range values must be numbers or null, got ${String(value)}`);
  };
  if (typeof usual !== 'object' || usual === null) throw new InputError('isolation forest artifact: no usual range');
  return { forest: isolationForestFromJSON(forest), usual: { low: bound(usual.low), median: bound(usual.median), high: bound(usual.high) } };
}

function score(model: LoadedIsolationForest, rows: FeatureRows): RowScores {
  if (rows.columns.length !== model.forest.featureCount) throw new InputError(`isolation forest: the model was fitted on ${model.forest.featureCount} features, got ${rows.columns.length}`);
  const count = rows.columns[0]?.length ?? 0;
  const constant = (value: number | null) => new Float64Array(count).fill(value ?? Number.NaN);
  const result: RowScores = { score: constant(null), anomalous: new Uint8Array(count), expected: constant(model.usual.median), lower: constant(model.usual.low), upper: constant(model.usual.high) };
  const complete = completeRows(rows);
  if (complete.length === 0) return result;
  const samples = scoreSamples(model.forest, pickRows(rows, complete));
  complete.forEach((row, k) => {
    // The paper's anomaly score is sklearn's score_samples negated.
    result.score[row] = -samples[k];
    result.anomalous[row] = samples[k] < model.forest.offset ? 1 : 0;
  });
  return result;
}

export const isolationForestTrainable: TrainableDetector<IsolationForestParams, IsolationForestArtifact, LoadedIsolationForest> = {
  name: 'iforest',
  params: ParamsSchema,
  fit,
  load,
  score,
};
