import { featureColumns } from '../detectors/index.js';
import type { LoadedSupervisedModel } from './models.js';

/**
 * The probability of the outcome for each row under a loaded supervised model (see
 * `App.supervisedModels`). Rows are objects of exactly the model's features, each a finite number
 * within the range its training step declared; otherwise one InputError says what is wrong, and
 * with which row (`rows[3]: `) when there are several.
 *
 * @example
 * const model = await app.supervisedModels.production('fleet_service');
 * if (model) predictProbabilities(model, [{ temperature: 12, precipitation: 0, mileage: 40 }]); // Float64Array [0.18]
 */
export function predictProbabilities(model: LoadedSupervisedModel, rows: readonly unknown[]): Float64Array {
  return model.kind.predictProbability(model.model, featureColumns(model.contract, rows));
}
