/**
 * rb-aioutliers' autoencoder per entity (one sensor's series) as a {@link TrainableDetector}. Rows
 * are placed on an evenly spaced grid (the training rows' usual spacing, e.g. a minute), since the
 * network reads windows of consecutive points; a grid point without a row is missing (NaN).
 */
import { z } from 'zod';
import { InputError, oneLine } from '../../errors.js';
import { AUTOENCODER_DEFAULTS, autoencoderFromJson, autoencoderToJson, scoreWithAutoencoder, trainAutoencoder } from '../autoencoder/index.js';
import type { AutoencoderJson, AutoencoderModel } from '../autoencoder/index.js';
import { usualStepMs } from '../series-spacing.js';
import { noVerdicts, type FeatureRows, type FitOutcome, type RowScores, type TrainableDetector } from './trainable.js';

const DAY_MS = 86_400_000;
const defaults = AUTOENCODER_DEFAULTS;
const whole = (min: number, max: number) => z.number().int().min(min).max(max);
const positive = z.number().positive().refine(Number.isFinite, 'must be finite');

const ParamsSchema = z
  .object({
    windowSize: whole(2, 4096).default(defaults.windowSize),
    hiddenSizes: z.array(whole(1, 4096)).min(1).default([...defaults.hiddenSizes]),
    epochs: whole(1, 10_000).default(defaults.epochs),
    batchSize: whole(1, 1_000_000).default(defaults.batchSize),
    learningRate: positive.default(defaults.learningRate),
    trainingStride: whole(1, 4096).default(defaults.trainingStride),
    scoringStride: whole(1, 4096).default(defaults.scoringStride),
    sigmas: positive.default(defaults.sigmas),
    flatLineWindow: whole(2, 4096).default(defaults.flatLineWindow),
    levelNoise: z.number().min(0).refine(Number.isFinite, 'must be finite').default(defaults.levelNoise),
    valueTransform: z.enum(['log1p', 'none']).default(defaults.valueTransform),
    seed: whole(0, 2 ** 32 - 1).default(defaults.seed),
    /** The network takes the time of week as input: an entity whose training rows span less is skipped. */
    minTrainingDays: z.number().min(0).default(7),
  })
  .strict();
export type AutoencoderParams = z.infer<typeof ParamsSchema>;

/** What is stored: the network and its thresholds, and the spacing of the grid it reads. */
export interface AutoencoderArtifact {
  autoencoder: AutoencoderJson;
  stepMs: number;
}

interface LoadedAutoencoder {
  autoencoder: AutoencoderModel;
  stepMs: number;
}

/** A grid holds at most this many points per row (see onGrid). */
const MAX_POINTS_PER_ROW = 4;

/** The one series of the rows; InputError for several features (the autoencoder models one: `value:`). */
function seriesOf(rows: FeatureRows): Float64Array {
  if (rows.columns.length !== 1) throw new InputError(`autoencoder: models one series (\`value:\`), got ${rows.columns.length} features (${rows.features.join(', ')})`);
  return rows.columns[0];
}

/**
 * The rows as a series with a point every `stepMs` from the first row's time (NaN where no row
 * fell), and each row's point; null when the rows would fill less than a quarter of it (too sparse
 * to be read as a series, and a stray time must not allocate a huge grid).
 */
function onGrid(rows: FeatureRows, stepMs: number): { timestampsMs: Float64Array; values: Float64Array; pointOfRow: Int32Array } | null {
  const values = seriesOf(rows);
  const { timestampsMs } = rows;
  const first = timestampsMs[0];
  const pointOfRow = new Int32Array(timestampsMs.length);
  for (let row = 0; row < pointOfRow.length; row++) pointOfRow[row] = Math.round((timestampsMs[row] - first) / stepMs);
  const length = pointOfRow.length === 0 ? 0 : pointOfRow[pointOfRow.length - 1] + 1;
  if (length > MAX_POINTS_PER_ROW * pointOfRow.length) return null;
  const grid = { timestampsMs: new Float64Array(length), values: new Float64Array(length).fill(Number.NaN), pointOfRow };
  for (let point = 0; point < length; point++) grid.timestampsMs[point] = first + point * stepMs;
  // Rows are in time order: of two on one point, the later one stays.
  for (let row = 0; row < pointOfRow.length; row++) grid.values[pointOfRow[row]] = values[row];
  return grid;
}

function windowSizeOf(model: LoadedAutoencoder): number {
  return model.autoencoder.layerSizes[model.autoencoder.layerSizes.length - 1];
}

function observedCount(values: Float64Array): number {
  let count = 0;
  for (const value of values) if (value === value) count++;
  return count;
}

function fit(training: FeatureRows, validation: FeatureRows, params: AutoencoderParams): FitOutcome<AutoencoderArtifact> {
  const { minTrainingDays, ...options } = params;
  const stepMs = usualStepMs(training.timestampsMs);
  if (stepMs === null) return { skipped: `${training.timestampsMs.length} training rows, too few to fit` };
  const spanDays = (training.timestampsMs[training.timestampsMs.length - 1] - training.timestampsMs[0]) / DAY_MS;
  if (spanDays < minTrainingDays) {
    return { skipped: `training rows span ${spanDays.toFixed(1)} days, fewer than minTrainingDays ${minTrainingDays} (the network learns the time of week)` };
  }
  const trainingGrid = onGrid(training, stepMs);
  const validationGrid = onGrid(validation, stepMs);
  if (trainingGrid === null || validationGrid === null) {
    return { skipped: `${trainingGrid === null ? 'training' : 'validation'} rows fill less than a quarter of a series of one point every ${stepMs / 1000} s` };
  }
  if (validationGrid.values.length < options.windowSize) {
    return { skipped: `validation rows cover ${validationGrid.values.length} points, fewer than a window of ${options.windowSize}` };
  }
  if (observedCount(validationGrid.values) === 0) return { skipped: 'no validation row has a value' };
  let trained: ReturnType<typeof trainAutoencoder>;
  let validated: ReturnType<typeof scoreWithAutoencoder>;
  try {
    trained = trainAutoencoder(trainingGrid.timestampsMs, trainingGrid.values, options);
    validated = scoreWithAutoencoder(trained.model, validationGrid.timestampsMs, validationGrid.values);
  } catch (error) {
    // What is left to refuse is the entity's own data (a value log1p cannot take, too few observed points).
    if (error instanceof InputError) return { skipped: oneLine(error) };
    throw error;
  }
  let errorSum = 0;
  let flagged = 0;
  let points = 0;
  validated.error.forEach((error, point) => {
    if (error !== error) return;
    errorSum += error;
    flagged += validated.isAnomaly[point];
    points++;
  });
  return {
    artifact: { autoencoder: autoencoderToJson(trained.model), stepMs },
    metrics: {
      // Mean reconstruction error of the held-out recent points: a model that reconstructs them generalises.
      validation_loss: errorSum / points,
      validation_flagged_share: flagged / points,
      error_threshold: trained.trainingErrors.threshold,
      training_points: trained.trainingErrors.points,
      validation_points: points,
      step_seconds: stepMs / 1000,
    },
  };
}

function load(artifact: unknown): LoadedAutoencoder {
  if (typeof artifact !== 'object' || artifact === null) throw new InputError('autoencoder artifact: expected an object');
  const { autoencoder, stepMs } = artifact as Partial<AutoencoderArtifact>;
  if (typeof stepMs !== 'number' || !Number.isFinite(stepMs) || stepMs <= 0) throw new InputError(`autoencoder artifact: stepMs must be a finite number > 0, got ${JSON.stringify(stepMs)}`);
  return { autoencoder: autoencoderFromJson(autoencoder), stepMs };
}

/**
 * Scores the rows on the model's grid. A row's score is 1 in a flat-line, else z / (z + k) for the
 * z-score of its reconstruction error against the training errors (0 below their mean), k being the
 * model's sigmas: 0.5 at the threshold. Rows covering fewer points than a window, or filling less
 * than a quarter of their grid, get no verdict.
 */
function score(model: LoadedAutoencoder, rows: FeatureRows): RowScores {
  seriesOf(rows);
  const result = noVerdicts(rows.timestampsMs.length);
  const grid = onGrid(rows, model.stepMs);
  if (grid === null || grid.values.length < windowSizeOf(model) || observedCount(grid.values) === 0) return result;
  const scores = scoreWithAutoencoder(model.autoencoder, grid.timestampsMs, grid.values);
  const { sigmas } = model.autoencoder;
  for (let row = 0; row < grid.pointOfRow.length; row++) {
    const point = grid.pointOfRow[row];
    result.expected[row] = scores.expected[point];
    result.lower[row] = scores.lower[point];
    result.upper[row] = scores.upper[point];
    const z = scores.score[point];
    if (z !== z) continue;
    result.score[row] = scores.flatLine[point] === 1 ? 1 : z > 0 ? z / (z + sigmas) : 0;
    result.anomalous[row] = scores.isAnomaly[point];
  }
  return result;
}

export const autoencoderTrainable: TrainableDetector<AutoencoderParams, AutoencoderArtifact, LoadedAutoencoder> = {
  name: 'autoencoder',
  params: ParamsSchema,
  fit,
  load,
  score,
};
