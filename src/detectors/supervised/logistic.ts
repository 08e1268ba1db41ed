/**
 * L2-regularised logistic regression on standardised features, fitted by Newton's method (IRLS)
 * with step halving. The objective is scikit-learn's `LogisticRegression` with `C = 1 / l2`:
 * `sum(log-loss) + l2 / 2 * ||w||^2` over the standardised coefficients, the intercept not
 * penalised; features standardised as its `StandardScaler` does (population std, 1 for a constant).
 */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { standardScale } from '../scaling.js';
import { parseArtifact, sigmoid, type LabelledRows, type SupervisedModel } from './supervised.js';

const ParamsSchema = z
  .object({
    /** Strength of the L2 penalty on the standardised coefficients (scikit-learn's 1 / C); 0: none. */
    l2: z.number().min(0).default(1),
    maxIterations: z.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type LogisticParams = z.infer<typeof ParamsSchema>;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const ArtifactSchema = z
  .object({
    kind: z.literal('logistic'),
    /** Per feature, what standardising subtracts and divides by. */
    mean: z.array(finite),
    scale: z.array(finite.refine((value) => value > 0, 'must be positive')),
    /** On the standardised features. */
    intercept: finite,
    coefficients: z.array(finite),
    l2: z.number().min(0),
    iterations: z.number().int().min(0),
    converged: z.boolean(),
  })
  .refine((artifact) => artifact.mean.length === artifact.coefficients.length && artifact.scale.length === artifact.coefficients.length, 'mean, scale and coefficients differ in length');
export type LogisticArtifact = z.infer<typeof ArtifactSchema>;

/** A fitted model in the features' own units: probability = sigmoid(intercept + coefficients · x). */
export interface LogisticModel {
  intercept: number;
  coefficients: Float64Array;
}

/** Newton's method stops once no parameter moves by more than this. */
const STEP_TOLERANCE = 1e-10;

/** log(1 + e^z) without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** The rows as a row-major design matrix: a 1 for the intercept, then the standardised features. */
function designMatrix(scaled: readonly Float64Array[], rows: number): Float64Array {
  const width = scaled.length + 1;
  const design = new Float64Array(rows * width);
  for (let row = 0; row < rows; row++) {
    const offset = row * width;
    design[offset] = 1;
    for (let k = 0; k < scaled.length; k++) design[offset + k + 1] = scaled[k][row];
  }
  return design;
}

/** The penalised objective at `beta` (intercept first). */
function objective(design: Float64Array, labels: Uint8Array, beta: Float64Array, l2: number): number {
  const width = beta.length;
  let sum = 0;
  for (let row = 0, offset = 0; row < labels.length; row++, offset += width) {
    let z = 0;
    for (let k = 0; k < width; k++) z += design[offset + k] * beta[k];
    sum += softplus(z) - labels[row] * z;
  }
  for (let k = 1; k < width; k++) sum += (l2 / 2) * beta[k] * beta[k];
  return sum;
}

/** Gradient and Hessian (dense, row-major) of the objective at `beta`. */
function gradientAndHessian(design: Float64Array, labels: Uint8Array, beta: Float64Array, l2: number): { gradient: Float64Array; hessian: Float64Array } {
  const width = beta.length;
  const gradient = new Float64Array(width);
  const hessian = new Float64Array(width * width);
  for (let row = 0, offset = 0; row < labels.length; row++, offset += width) {
    let z = 0;
    for (let k = 0; k < width; k++) z += design[offset + k] * beta[k];
    const p = sigmoid(z);
    const residual = p - labels[row];
    const weight = p * (1 - p);
    for (let a = 0; a < width; a++) {
      const xa = design[offset + a];
      gradient[a] += residual * xa;
      const weighted = weight * xa;
      for (let b = 0; b <= a; b++) hessian[a * width + b] += weighted * design[offset + b];
    }
  }
  for (let a = 0; a < width; a++) for (let b = 0; b < a; b++) hessian[b * width + a] = hessian[a * width + b];
  for (let k = 1; k < width; k++) {
    gradient[k] += l2 * beta[k];
    hessian[k * width + k] += l2;
  }
  return { gradient, hessian };
}

/** Solves `matrix · x = vector` for a symmetric positive (semi)definite matrix by Cholesky, nudging the diagonal when it is singular. */
function solveSymmetric(matrix: Float64Array, vector: Float64Array): Float64Array {
  const size = vector.length;
  let trace = 0;
  for (let k = 0; k < size; k++) trace += matrix[k * size + k];
  for (let jitter = 0; ; jitter = jitter === 0 ? 1e-12 * trace : jitter * 100) {
    const lower = new Float64Array(size * size);
    let positive = true;
    for (let i = 0; i < size && positive; i++) {
      for (let j = 0; j <= i; j++) {
        let sum = matrix[i * size + j] + (i === j ? jitter : 0);
        for (let k = 0; k < j; k++) sum -= lower[i * size + k] * lower[j * size + k];
        if (i === j) {
          if (!(sum > 0)) {
            positive = false;
            break;
          }
          lower[i * size + i] = Math.sqrt(sum);
        } else {
          lower[i * size + j] = sum / lower[j * size + j];
        }
      }
    }
    if (!positive) continue;
    const forward = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      let sum = vector[i];
      for (let k = 0; k < i; k++) sum -= lower[i * size + k] * forward[k];
      forward[i] = sum / lower[i * size + i];
    }
    const solution = new Float64Array(size);
    for (let i = size - 1; i >= 0; i--) {
      let sum = forward[i];
      for (let k = i + 1; k < size; k++) sum -= lower[k * size + i] * solution[k];
      solution[i] = sum / lower[i * size + i];
    }
    return solution;
  }
}

/**
 * Fits by Newton's method from the intercept of the outcome's base rate; each step is halved
 * until the objective decreases (at most 30 times). Without a penalty on separable rows the
 * coefficients grow until `maxIterations`: `converged` is then false.
 */
function fit(training: LabelledRows, params: LogisticParams): LogisticArtifact {
  const { labels } = training;
  const rows = labels.length;
  const { scaled, mean, std } = standardScale(training.columns);
  const design = designMatrix(scaled, rows);
  const beta = new Float64Array(scaled.length + 1);
  let positives = 0;
  for (const label of labels) positives += label;
  beta[0] = Math.log(positives / (rows - positives));
  let current = objective(design, labels, beta, params.l2);
  let iterations = 0;
  let converged = false;
  while (iterations < params.maxIterations && !converged) {
    iterations++;
    const { gradient, hessian } = gradientAndHessian(design, labels, beta, params.l2);
    const step = solveSymmetric(hessian, gradient);
    let scale = 1;
    let candidate = beta.map((value, k) => value - step[k]);
    let next = objective(design, labels, candidate, params.l2);
    for (let halvings = 0; !(next <= current) && halvings < 30; halvings++) {
      scale /= 2;
      candidate = beta.map((value, k) => value - scale * step[k]);
      next = objective(design, labels, candidate, params.l2);
    }
    if (!(next <= current)) break; // no step decreases it: as good as the arithmetic allows
    const moved = Math.max(...candidate.map((value, k) => Math.abs(value - beta[k])));
    beta.set(candidate);
    current = next;
    converged = moved < STEP_TOLERANCE;
  }
  return { kind: 'logistic', mean, scale: std, intercept: beta[0], coefficients: Array.from(beta.subarray(1)), l2: params.l2, iterations, converged };
}

/** The stored coefficients, turned into the features' own units (no standardising at prediction). */
function load(artifact: unknown): LogisticModel {
  const { mean, scale, intercept, coefficients } = parseArtifact(ArtifactSchema, artifact, 'logistic');
  const perUnit = Float64Array.from(coefficients, (coefficient, k) => coefficient / scale[k]);
  return { intercept: intercept - perUnit.reduce((sum, coefficient, k) => sum + coefficient * mean[k], 0), coefficients: perUnit };
}

function predictProbability(model: LogisticModel, columns: readonly Float64Array[]): Float64Array {
  if (columns.length !== model.coefficients.length) throw new InputError(`logistic: the model was fitted on ${model.coefficients.length} features, got ${columns.length}`);
  const rows = columns[0]?.length ?? 0;
  const probabilities = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let z = model.intercept;
    for (let k = 0; k < columns.length; k++) z += model.coefficients[k] * columns[k][row];
    probabilities[row] = sigmoid(z);
  }
  return probabilities;
}

export const logisticModel: SupervisedModel<LogisticParams, LogisticArtifact, LogisticModel> = {
  name: 'logistic',
  params: ParamsSchema,
  fit,
  load,
  predictProbability,
};
