/**
 * Supervised models: fitted on feature rows with a 0/1 outcome, they give each new row the
 * probability of the outcome. A model joins by implementing {@link SupervisedModel} in one adapter
 * file and being listed in `index.ts`; fitting, validation metrics and calibration are shared
 * (`evaluate.ts`), so every model is measured the same way.
 */
import type { z } from 'zod';
import { InputError } from '../../errors.js';

/** Rows with their outcomes: one Float64Array per feature and one 0/1 label per row, all of one length, in time order. */
export interface LabelledRows {
  features: readonly string[];
  columns: readonly Float64Array[];
  labels: Uint8Array;
}

/**
 * A model of a binary outcome. `Artifact` is what is stored (plain JSON), `Fitted` what predicting
 * uses (typed arrays), {@link load} the checked way from one to the other.
 *
 * @example
 * const logistic = supervisedModel('logistic');
 * const artifact = logistic.fit(rows, logistic.params.parse({ l2: 1 }));
 * const probabilities = logistic.predictProbability(logistic.load(artifact), todayColumns);
 */
export interface SupervisedModel<Params = unknown, Artifact = unknown, Fitted = unknown> {
  /** The name training steps give as `detector`. */
  readonly name: string;
  /** The step's `params`, checked, with defaults filled in. */
  readonly params: z.ZodType<Params>;
  /** Fits on complete rows (every value finite) holding both outcomes. */
  fit(training: LabelledRows, params: Params): Artifact;
  /** A stored artifact (parsed JSON) back to a model; InputError when it is malformed. */
  load(artifact: unknown): Fitted;
  /** The probability of outcome 1 for each row of `columns` (the features in the order fitted on). */
  predictProbability(model: Fitted, columns: readonly Float64Array[]): Float64Array;
}

/** The logistic function, without overflow for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** A stored artifact checked against its schema; InputError naming the first problem otherwise. */
export function parseArtifact<T>(schema: z.ZodType<T>, artifact: unknown, model: string): T {
  const parsed = schema.safeParse(artifact);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  throw new InputError(`${model} artifact: ${issue.path.join('.') || 'artifact'}: ${issue.message}`, { cause: parsed.error });
}
