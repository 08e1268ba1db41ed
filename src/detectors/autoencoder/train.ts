/**
 * Training rb-aioutliers' per-sensor model: the series compressed (log1p) and scaled to [0, 1] with
 * its own range, cut into windows, a small dense autoencoder fitted to reconstruct them (mean
 * squared error, Adam), and the mean and spread of the training points' reconstruction errors kept
 * for the k-sigma threshold. Deterministic for a seed: the initial weights, the order of the windows
 * and the training corruption come from one SeededRandom.
 *
 * Where this goes beyond the plain recipe (scale, window, reconstruct, mean + 5 std), each choice was
 * measured on the traffic sample (20 sensors trained on 28 days, their next 7 days scored day by
 * day; 76 incidents; "found" = any minute flagged):
 * - k-sigma clipped training moments: the training weeks hold incidents too, and unclipped they
 *   inflated the spread so much that 13% of drops and level shifts were found.
 * - log1p before scaling (as rb-aioutliers' tanh(log1p(v) / 32)): drops found 96% instead of 79%,
 *   and normal minutes flagged 1.9% instead of 4.1% (squared errors).
 * - absolute rather than squared point errors: 0.5% of normal minutes flagged instead of 1.9%, for
 *   54 rather than 59 incidents found.
 * - the window's time of day and week as inputs (rb-aioutliers feeds minute and weekday): level
 *   shifts found 91% instead of 61-74%.
 * - level noise while training (see {@link AutoencoderOptions.levelNoise}): 59 incidents found
 *   instead of 61, but a level shift's minutes flagged 40% instead of 5% and normal minutes 0.3%
 *   instead of 0.5%.
 * - Adam's learning rate 0.005 rather than 0.002: level shifts found 22 of 23 instead of 19 at the
 *   same cost (21 instead of 20 of 23 on a sample with another seed); 60 epochs at 0.002 did as
 *   well but took twice as long; a wider network (32-8-32) or window (64) did no better.
 * Flat-lines (a stuck exporter repeating its last counters) stayed mostly unseen (2 of 15): a
 * constant window is the easiest thing to reconstruct, so only a jump when the series comes back
 * showed. A check of how much the series moves finds them (see flat-line.ts).
 */
import { InputError } from '../../errors.js';
import { SeededRandom } from '../../random.js';
import {
  reconstructionError,
  reconstructSeries,
  scaledSeries,
  setWindowInput,
  TIME_FEATURES,
  transformValue,
  type AutoencoderModel,
  type ValueTransform,
} from './model.js';
import { learnFlatLineLimits } from './flat-line.js';
import { accumulateGradient, adamStep, createAdamState, createWorkspace, initialParameters } from './network.js';
import { checkSeries } from './series.js';

/** Options of {@link trainAutoencoder}. */
export interface AutoencoderOptions {
  /** Points per window, the network's input and output width. Default 32. */
  windowSize?: number;
  /** Hidden layer widths, encoder then decoder. Default [16, 8, 16]. */
  hiddenSizes?: readonly number[];
  /** Passes over the training windows. Default 30. */
  epochs?: number;
  /** Windows per Adam step. Default 32. */
  batchSize?: number;
  /** Adam's learning rate. Default 0.005. */
  learningRate?: number;
  /**
   * Points between training windows. Default 4: neighbouring windows share all but a few points, so
   * a denser cut costs more per epoch without teaching more; the first window's offset is drawn
   * anew each epoch, so over the epochs every alignment is seen.
   */
  trainingStride?: number;
  /** Points between scoring windows, kept in the model. Default 8: each point is the mean of 4 reconstructions. */
  scoringStride?: number;
  /** k of the k-sigma threshold, kept in the model. Default 5, as rb-aioutliers. */
  sigmas?: number;
  /** Consecutive changes a flat-line window spans: the shortest flat-line found is one point longer. Default 16. */
  flatLineWindow?: number;
  /**
   * Largest level offset, in scaled units, added to the input of half the training windows while
   * the target stays the true window (a denoising autoencoder). It teaches the network to take the
   * level from the time of day and week rather than copy it, so that a shifted level shows as error
   * for as long as it lasts, not only at its edges. 0 turns it off. Default 0.2.
   */
  levelNoise?: number;
  /** How values are compressed before scaling. Default 'log1p'. */
  valueTransform?: ValueTransform;
  /** Seed of the initial weights, the window order and the level noise, a whole number in 0..2^32-1. Default 0. */
  seed?: number;
}

/** Result of {@link trainAutoencoder}. */
export interface AutoencoderTraining {
  model: AutoencoderModel;
  /**
   * The moments of the training points' reconstruction errors (missing points excluded), the
   * threshold they give, and how many points were clipped as the training period's own outliers.
   */
  trainingErrors: { mean: number; std: number; threshold: number; points: number; clippedPoints: number };
  /** Mean reconstruction loss of each epoch, to see whether training converged. */
  epochLosses: Float64Array;
}

type Settings = Required<Omit<AutoencoderOptions, 'hiddenSizes'>> & { hiddenSizes: readonly number[] };

/** The value of every option not given. */
export const AUTOENCODER_DEFAULTS: Readonly<Settings> = {
  windowSize: 32,
  hiddenSizes: [16, 8, 16],
  epochs: 30,
  batchSize: 32,
  learningRate: 0.005,
  trainingStride: 4,
  scoringStride: 8,
  sigmas: 5,
  flatLineWindow: 16,
  levelNoise: 0.2,
  valueTransform: 'log1p',
  seed: 0,
};

const MAX_SEED = 2 ** 32 - 1;
/** Floor of the error spread, so that a series the network reproduces exactly still has finite scores. */
const MIN_ERROR_STD = 1e-12;

/**
 * Trains an autoencoder on one series (evenly spaced points, e.g. one sensor's bytes per minute over
 * a few weeks; NaN for a missing point) and measures its training errors.
 *
 * @param timestampsMs epoch milliseconds of each point, for its time of day and week (UTC).
 * @example
 * const { model, trainingErrors } = trainAutoencoder(minuteStartsMs, bytesPerMinute, { seed: 7 });
 * // trainingErrors.threshold: the error above which scoreWithAutoencoder flags a point
 * @throws InputError on bad options, arrays of different lengths, an infinite value (or one log1p
 *   cannot take), or fewer observed points than two windows.
 */
export function trainAutoencoder(timestampsMs: Float64Array, values: Float64Array, options: AutoencoderOptions = {}): AutoencoderTraining {
  const settings = checkOptions(options);
  checkSeries(timestampsMs, values, 'trainAutoencoder');
  const { windowSize, valueTransform } = settings;
  let scaleMin = Infinity;
  let scaleMax = -Infinity;
  let observed = 0;
  for (const value of values) {
    if (value !== value) continue;
    observed++;
    const transformed = transformValue(value, valueTransform);
    if (transformed < scaleMin) scaleMin = transformed;
    if (transformed > scaleMax) scaleMax = transformed;
  }
  if (observed < 2 * windowSize) {
    throw new InputError(`trainAutoencoder: ${observed} observed values, fewer than two windows of ${windowSize}`);
  }
  // A constant series is scaled by a range of 1 rather than divided by zero.
  if (!(scaleMax > scaleMin)) scaleMax = scaleMin + 1;
  const scaled = scaledSeries(values, { valueTransform, scaleMin, scaleMax }, 'trainAutoencoder');

  const layerSizes = [windowSize + TIME_FEATURES, ...settings.hiddenSizes, windowSize];
  const random = new SeededRandom(settings.seed);
  const parameters = initialParameters(layerSizes, random);
  const epochLosses = fitWindows(parameters, layerSizes, scaled, timestampsMs, settings, random);

  const { scoringStride, sigmas } = settings;
  const reconstructed = reconstructSeries({ layerSizes, parameters, scoringStride }, scaled, timestampsMs);
  const { mean, std, clippedPoints } = clippedErrorMoments(values, scaled, reconstructed, sigmas);
  const errorStd = Math.max(std, MIN_ERROR_STD);
  const { flatLineWindow } = settings;
  const flatLineLimits = learnFlatLineLimits(scaled, values, timestampsMs, flatLineWindow, sigmas);
  return {
    model: { layerSizes, parameters, valueTransform, scaleMin, scaleMax, scoringStride, errorMean: mean, errorStd, sigmas, flatLineWindow, flatLineLimits },
    trainingErrors: { mean, std: errorStd, threshold: mean + sigmas * errorStd, points: observed, clippedPoints },
    epochLosses,
  };
}

/** Mini-batch Adam over the windows; returns each epoch's mean loss. */
function fitWindows(
  parameters: Float64Array,
  layerSizes: readonly number[],
  scaled: Float64Array,
  timestampsMs: Float64Array,
  settings: Settings,
  random: SeededRandom,
): Float64Array {
  const { windowSize, trainingStride, batchSize, epochs, learningRate, levelNoise } = settings;
  const workspace = createWorkspace(layerSizes);
  const adam = createAdamState(parameters.length);
  const gradient = new Float64Array(parameters.length);
  const lastStart = scaled.length - windowSize;
  const starts = new Int32Array(Math.floor(lastStart / trainingStride) + 1);
  const epochLosses = new Float64Array(epochs);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const offset = random.below(trainingStride);
    const count = Math.floor((lastStart - offset) / trainingStride) + 1;
    for (let i = 0; i < count; i++) starts[i] = offset + i * trainingStride;
    // Fisher–Yates: every epoch visits the windows in a fresh order, so batches mix times of day.
    for (let i = count - 1; i > 0; i--) {
      const pick = random.below(i + 1);
      const start = starts[pick];
      starts[pick] = starts[i];
      starts[i] = start;
    }
    let lossSum = 0;
    for (let batchStart = 0; batchStart < count; batchStart += batchSize) {
      const batchEnd = Math.min(count, batchStart + batchSize);
      gradient.fill(0);
      const weight = 1 / (batchEnd - batchStart);
      for (let i = batchStart; i < batchEnd; i++) {
        const levelOffset = levelNoise > 0 && random.next() < 0.5 ? random.uniform(-levelNoise, levelNoise) : 0;
        setWindowInput(workspace.activations[0], scaled, timestampsMs, starts[i], levelOffset);
        lossSum += accumulateGradient(parameters, scaled, starts[i], weight, gradient, workspace);
      }
      adamStep(parameters, gradient, adam, learningRate);
    }
    epochLosses[epoch] = lossSum / count;
  }
  return epochLosses;
}

/**
 * Mean and population standard deviation of the observed points' reconstruction errors, k-sigma
 * clipped: errors above mean + k * std are left out and the moments taken again until no error
 * changes side. The training weeks hold incidents of their own, and their errors, orders of
 * magnitude above the rest, would otherwise inflate the spread and hide every later incident.
 */
function clippedErrorMoments(values: Float64Array, scaled: Float64Array, reconstructed: Float64Array, sigmas: number) {
  const errors: number[] = [];
  for (let t = 0; t < values.length; t++) if (values[t] === values[t]) errors.push(reconstructionError(scaled[t], reconstructed[t]));
  let limit = Infinity;
  let kept = -1;
  for (;;) {
    let count = 0;
    let sum = 0;
    for (const error of errors) if (error <= limit) (count++, (sum += error));
    const mean = sum / count;
    let squares = 0;
    for (const error of errors) if (error <= limit) squares += (error - mean) * (error - mean);
    const std = Math.sqrt(squares / count);
    if (count === kept) return { mean, std, clippedPoints: errors.length - count };
    kept = count;
    limit = mean + sigmas * std;
  }
}

function checkOptions(options: AutoencoderOptions): Settings {
  const defaults = AUTOENCODER_DEFAULTS;
  const {
    windowSize = defaults.windowSize,
    hiddenSizes = defaults.hiddenSizes,
    epochs = defaults.epochs,
    batchSize = defaults.batchSize,
    learningRate = defaults.learningRate,
    trainingStride = defaults.trainingStride,
    scoringStride = defaults.scoringStride,
    sigmas = defaults.sigmas,
    flatLineWindow = defaults.flatLineWindow,
    levelNoise = defaults.levelNoise,
    valueTransform = defaults.valueTransform,
    seed = defaults.seed,
  } = options;
  const whole = (name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InputError(`trainAutoencoder: ${name} must be a whole number in ${min}..${max}, got ${value}`);
    }
  };
  whole('windowSize', windowSize, 2, 4096);
  if (!Array.isArray(hiddenSizes) || hiddenSizes.length < 1) throw new InputError('trainAutoencoder: hiddenSizes must list at least one layer width');
  hiddenSizes.forEach((width, layer) => whole(`hiddenSizes[${layer}]`, width, 1, 4096));
  whole('epochs', epochs, 1);
  whole('batchSize', batchSize, 1);
  whole('trainingStride', trainingStride, 1, windowSize);
  whole('scoringStride', scoringStride, 1, windowSize);
  whole('flatLineWindow', flatLineWindow, 2, 4096);
  whole('seed', seed, 0, MAX_SEED);
  if (!(typeof learningRate === 'number' && learningRate > 0 && Number.isFinite(learningRate))) {
    throw new InputError(`trainAutoencoder: learningRate must be a finite number > 0, got ${learningRate}`);
  }
  if (!(typeof sigmas === 'number' && sigmas > 0 && Number.isFinite(sigmas))) {
    throw new InputError(`trainAutoencoder: sigmas must be a finite number > 0, got ${sigmas}`);
  }
  if (!(typeof levelNoise === 'number' && levelNoise >= 0 && Number.isFinite(levelNoise))) {
    throw new InputError(`trainAutoencoder: levelNoise must be a finite number >= 0, got ${levelNoise}`);
  }
  if (valueTransform !== 'log1p' && valueTransform !== 'none') {
    throw new InputError(`trainAutoencoder: valueTransform must be 'log1p' or 'none', got ${String(valueTransform)}`);
  }
  return { windowSize, hiddenSizes, epochs, batchSize, learningRate, trainingStride, scoringStride, sigmas, flatLineWindow, levelNoise, valueTransform, seed };
}
