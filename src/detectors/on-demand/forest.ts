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
 * Fits a forest on the rows where every feature has a value and flags the ones it isolates. The
 * band is the first feature's usual range (10th to 90th percentile of the rows not flagged),
 * its median what was expected.
 */
export function isolationForestVerdicts(columns: readonly Float64Array[], features: readonly string[], params: IsolationForestParams): Verdicts {
  const count = columns[0].length;
  const verdicts = emptyVerdicts(count, columns[0]);
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
  const usual = usualRange(columns[0], verdicts.anomalous);
  verdicts.expected.fill(usual.median);
  verdicts.lower.fill(usual.low);
  verdicts.upper.fill(usual.high);
  for (let row = 0; row < count; row++) {
    if (verdicts.anomalous[row] === 0) continue;
    verdicts.reasons.push(`${features[0]} ${formatValue(columns[0][row])} isolated by the forest (score ${verdicts.score[row].toFixed(2)}; usual ${formatValue(usual.low)}–${formatValue(usual.high)})`);
  }
  return verdicts;
}
