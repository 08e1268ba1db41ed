/** Supervised models a training step with a `label` fits; a new one is an adapter file listed here. */
import { InputError } from '../../errors.js';
import { gbdtModel } from './gbdt.js';
import { logisticModel } from './logistic.js';
import type { SupervisedModel } from './supervised.js';

export type { LabelledRows, SupervisedModel } from './supervised.js';
export { fitSupervised, holdOutLabelled } from './evaluate.js';
export type { SupervisedFitOutcome } from './evaluate.js';
export { brierScore, calibrationTable, logLoss, rocAuc } from './metrics.js';
export type { CalibrationBin } from './metrics.js';
export { describeRange, featureColumns, rowProblem } from './feature-checks.js';
export type { FeatureContract, FeatureRange } from './feature-checks.js';
export type { LogisticModel } from './logistic.js';

const SUPERVISED: readonly SupervisedModel[] = [logisticModel as SupervisedModel, gbdtModel as SupervisedModel];

/** Names of the supervised models. */
export const SUPERVISED_MODELS: readonly string[] = SUPERVISED.map((model) => model.name);

/** Whether `name` is a supervised model's. */
export function isSupervised(name: string): boolean {
  return SUPERVISED_MODELS.includes(name);
}

/** The supervised model named `name`; InputError naming the known ones otherwise. */
export function supervisedModel(name: string): SupervisedModel {
  const model = SUPERVISED.find((candidate) => candidate.name === name);
  if (model === undefined) throw new InputError(`"${name}" is not a supervised model (supervised: ${SUPERVISED_MODELS.join(', ')})`);
  return model;
}
