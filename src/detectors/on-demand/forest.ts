/** Isolation Forest on data sent with a request: fitted on it and scored on it, as rb-aioutliers' shallow model does. */
import { z } from 'zod';
import { fitAndScoreIsolationForest, outlierLabels } from '../isolation-forest/index.js';
import { emptyVerdicts, formatValue, usualRange, type Verdicts } from './verdicts.js';

export const IsolationForestParamsSchema = z
  .object({
    trees: z.number().int().min(1).max(1000).default(100),
    maxSamples: z.number().int().min(2).max(100_000).default(256),
    contamination: z.union([z.literal('auto'), z.number().gt(0).max(0.5)]).default(0.01),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  })
  .strict();
export type IsolationForestParams = z.infer<typeof IsolationForestParamsSchema>;

/**
 * Fits a forest on the rows where every feature has a value and flags the ones it isolates. Each
 * flagged row is described by the feature that lies furthest outside its usual range (10th to 90th
 * percentile of the rows not flagged, relative to the range's width), with that range as the band
 * and its median as what was expected.
 */
export function isolationForestVerdicts(columns: readonly Float64Array[], features: readonly string[], params: IsolationForestParams): Verdicts {
  const count = columns[0].length;
  const verdicts = emptyVerdicts(count, new Float64Array(count).fill(Number.NaN));
  const complete: number[] = [];
  for (let row = 0; row < count; row++) if (columns.every((column) => column[row] === column[row])) complete.push(row);
  const picked = columns.map((column) => Float64Array.from(complete, (row) => column[row]));
  const { model, sampleScores } = fitAndScoreIsolationForest(picked, { nEstimators: params.trees, maxSamples: params.maxSamples, contamination: params.contamination, seed: params.seed });
  const labels = outlierLabels(model, sampleScores);
  complete.forEach((row, k) => {
    // The paper's anomaly score is sklearn's score_samples negated.
    verdicts.score[row] = -sampleScores[k];
    verdicts.anomalous[row] = labels[k] === -1 ? 1 : 0;
  });
  const usual = columns.map((column) => usualRange(column, verdicts.anomalous));
  for (let row = 0; row < count; row++) {
    let feature = 0;
    let furthest = -1;
    usual.forEach((range, k) => {
      const outside = Math.abs(columns[k][row] - range.median) / Math.max(range.high - range.low, Number.MIN_VALUE);
      if (outside > furthest) [feature, furthest] = [k, outside];
    });
    const range = usual[feature];
    verdicts.feature[row] = feature;
    verdicts.value[row] = columns[feature][row];
    verdicts.expected[row] = range.median;
    verdicts.lower[row] = range.low;
    verdicts.upper[row] = range.high;
    if (verdicts.anomalous[row] === 1) {
      verdicts.reasons.push(`${features[feature]} ${formatValue(columns[feature][row])} isolated by the forest (score ${verdicts.score[row].toFixed(2)}; usual ${formatValue(range.low)}–${formatValue(range.high)})`);
    }
  }
  return verdicts;
}
