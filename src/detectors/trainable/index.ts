/** The detectors a training step can fit per entity; a new one is an adapter file listed here. */
import { InputError } from '../../errors.js';
import { autoencoderTrainable } from './autoencoder.js';
import { isolationForestTrainable } from './isolation-forest.js';
import type { TrainableDetector } from './trainable.js';

export type { FeatureRows, FitOutcome, ModelMetrics, RowScores, TrainableDetector } from './trainable.js';
export { holdOut, holdOutCut, noVerdicts } from './trainable.js';

const TRAINABLE: readonly TrainableDetector[] = [isolationForestTrainable, autoencoderTrainable];

/** Names of the trainable detectors. */
export const TRAINABLE_DETECTORS: readonly string[] = TRAINABLE.map((detector) => detector.name);

/** The trainable detector named `name`; InputError naming the known ones otherwise. */
export function trainableDetector(name: string): TrainableDetector {
  const detector = TRAINABLE.find((candidate) => candidate.name === name);
  if (detector === undefined) throw new InputError(`"${name}" is not a trainable detector (trainable: ${TRAINABLE_DETECTORS.join(', ')})`);
  return detector;
}
