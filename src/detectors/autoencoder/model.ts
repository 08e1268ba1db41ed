/** The trained autoencoder as plain data, and the steps that training and scoring share. */
import { InputError } from '../../errors.js';
import { interpolateMissing } from './series.js';
import { createWorkspace, forward } from './network.js';

/**
 * How values are compressed before min/max scaling. 'log1p' (log(1 + v)) suits counts such as
 * bytes, whose noise grows with their level, as rb-aioutliers' tanh(log1p(v) / 32) does; 'none'
 * keeps values as they are (any sign).
 */
export type ValueTransform = 'log1p' | 'none';

/**
 * A trained autoencoder: everything scoring needs, nothing else. Plain numbers and one Float64Array,
 * so {@link autoencoderToJson} can write it and a later run score with it.
 */
export interface AutoencoderModel {
  /**
   * Units per layer, input first: [window + 4, ...hidden, window], e.g. [36, 16, 8, 16, 32]. The
   * input is the window's scaled values and its time of day and of week (see {@link setWindowInput}).
   */
  layerSizes: number[];
  /** Weights and biases, layer after layer (each layer's weights row-major, then its biases). */
  parameters: Float64Array;
  valueTransform: ValueTransform;
  /** Range of the transformed training values: u is fed to the network as (u - scaleMin) / (scaleMax - scaleMin). */
  scaleMin: number;
  scaleMax: number;
  /** Points between the starts of consecutive windows when scoring. */
  scoringStride: number;
  /** Mean and (population) standard deviation of the training points' reconstruction errors, k-sigma clipped. */
  errorMean: number;
  errorStd: number;
  /** k: a point is anomalous when its error exceeds errorMean + k * errorStd. */
  sigmas: number;
  /** Consecutive changes a flat-line window spans (see flat-line.ts). */
  flatLineWindow: number;
  /** Per hour of the day (UTC), the stillness below which a window is a flat-line; 0: never. */
  flatLineLimits: number[];
}

/** Inputs after the window's values: sin and cos of its time of day, sin and cos of its time of week. */
export const TIME_FEATURES = 4;
export const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

/** The window length of a model: its output width. */
export function windowSizeOf(model: Pick<AutoencoderModel, 'layerSizes'>): number {
  return model.layerSizes[model.layerSizes.length - 1];
}

/** v transformed as the model's valueTransform says. */
export function transformValue(value: number, valueTransform: ValueTransform): number {
  return valueTransform === 'log1p' ? Math.log1p(value) : value;
}

/** The inverse of {@link transformValue}. */
export function untransformValue(transformed: number, valueTransform: ValueTransform): number {
  return valueTransform === 'log1p' ? Math.expm1(transformed) : transformed;
}

/**
 * `values` transformed and mapped to the model's [0, 1] training range, with missing values (NaN)
 * interpolated, since every window the network sees must be complete.
 *
 * @throws InputError on an infinite value, a value log1p cannot take (<= -1), or no observed value.
 */
export function scaledSeries(
  values: Float64Array,
  scaling: Pick<AutoencoderModel, 'valueTransform' | 'scaleMin' | 'scaleMax'>,
  caller: string,
): Float64Array {
  const scaled = interpolateMissing(values, caller);
  const range = scaling.scaleMax - scaling.scaleMin;
  for (let t = 0; t < scaled.length; t++) {
    if (scaling.valueTransform === 'log1p' && scaled[t] <= -1) {
      throw new InputError(`${caller}: value ${scaled[t]} at index ${t} is not above -1, as valueTransform 'log1p' needs; use 'none'`);
    }
    scaled[t] = (transformValue(scaled[t], scaling.valueTransform) - scaling.scaleMin) / range;
  }
  return scaled;
}

/**
 * Writes the network input of the window starting at `start` into `input`: its scaled values
 * (plus `levelOffset`, the training corruption) and the time of day and of week of its middle point,
 * as angles' sin and cos so that midnight and Sunday night wrap around. The time lets the network
 * learn which level is normal when, as rb-aioutliers feeds it the minute of the day and the weekday.
 */
export function setWindowInput(
  input: Float64Array,
  scaled: Float64Array,
  timestampsMs: Float64Array,
  start: number,
  levelOffset: number,
): void {
  const windowSize = input.length - TIME_FEATURES;
  for (let i = 0; i < windowSize; i++) input[i] = scaled[start + i] + levelOffset;
  const time = timestampsMs[start + (windowSize >> 1)];
  const dayAngle = (2 * Math.PI * (((time % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
  const weekAngle = (2 * Math.PI * (((time % WEEK_MS) + WEEK_MS) % WEEK_MS)) / WEEK_MS;
  input[windowSize] = Math.sin(dayAngle);
  input[windowSize + 1] = Math.cos(dayAngle);
  input[windowSize + 2] = Math.sin(weekAngle);
  input[windowSize + 3] = Math.cos(weekAngle);
}

/**
 * The network's reconstruction of a scaled series: every window at the scoring stride (plus one
 * ending at the last point, so every point is covered) is reconstructed, and each point gets the
 * mean of its reconstructions, as rb-aioutliers' `flatten` averages overlapping slices.
 */
export function reconstructSeries(
  model: Pick<AutoencoderModel, 'layerSizes' | 'parameters' | 'scoringStride'>,
  scaled: Float64Array,
  timestampsMs: Float64Array,
): Float64Array {
  const windowSize = windowSizeOf(model);
  const workspace = createWorkspace(model.layerSizes);
  const sums = new Float64Array(scaled.length);
  const counts = new Float64Array(scaled.length);
  const lastStart = scaled.length - windowSize;
  for (let start = 0; ; start = Math.min(start + model.scoringStride, lastStart)) {
    setWindowInput(workspace.activations[0], scaled, timestampsMs, start, 0);
    const output = forward(model.parameters, workspace);
    for (let i = 0; i < windowSize; i++) {
      sums[start + i] += output[i];
      counts[start + i]++;
    }
    if (start === lastStart) break;
  }
  for (let t = 0; t < sums.length; t++) sums[t] /= counts[t];
  return sums;
}

/**
 * The reconstruction error of one point, in scaled units: the absolute difference. Squared
 * differences (the training loss) have so heavy a tail at quiet hours that k-sigma on them flagged
 * 1.9% of the traffic sample's normal minutes, absolute ones 0.5% (see train.ts for the measurements).
 */
export function reconstructionError(scaledValue: number, reconstructed: number): number {
  return Math.abs(scaledValue - reconstructed);
}
