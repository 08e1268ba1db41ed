/** Scoring data sent with a request with a trained model (from the registry), as verdicts like the other detectors'. */
import type { FeatureRows, TrainableDetector } from '../trainable/index.js';
import { emptyVerdicts, formatValue, type Verdicts } from './verdicts.js';

/**
 * The model's verdict on each row; `label` names the model in the reasons, e.g. `sensor_ae/FlowSensor v3`.
 *
 * @example
 * const verdicts = scoreWithTrainedModel(loaded.detector, loaded.model, { features: ['value'], columns: [bytes] }, 'sensor_ae/FlowSensor v3');
 * @throws InputError when the rows do not fit the model (other features, too few rows).
 */
export function scoreWithTrainedModel(detector: TrainableDetector, model: unknown, rows: FeatureRows, label: string): Verdicts {
  const scores = detector.score(model, rows);
  const values = rows.columns[0];
  const verdicts: Verdicts = { ...emptyVerdicts(values.length, values), anomalous: scores.anomalous, score: scores.score, expected: scores.expected, lower: scores.lower, upper: scores.upper };
  for (let row = 0; row < values.length; row++) {
    if (scores.anomalous[row] === 0) continue;
    const band = Number.isFinite(scores.lower[row]) && Number.isFinite(scores.upper[row]) ? `, usual ${formatValue(scores.lower[row])}–${formatValue(scores.upper[row])}` : '';
    const expected = Number.isFinite(scores.expected[row]) ? ` (expected ${formatValue(scores.expected[row])}${band})` : '';
    verdicts.reasons.push(`${rows.features[0]} ${formatValue(values[row])} scored ${scores.score[row].toFixed(2)} by ${label}${expected}`);
  }
  return verdicts;
}
