/** Scoring a series with a trained autoencoder: reconstruction, error and the k-sigma flag per point. */
import { InputError } from '../../errors.js';
import { reconstructionError, reconstructSeries, scaledSeries, untransformValue, windowSizeOf, type AutoencoderModel } from './model.js';
import { flagFlatLines } from './flat-line.js';
import { checkSeries } from './series.js';

/** Per point of the scored series, indexed like it. */
export interface AutoencoderScores {
  /** The reconstructed value, in the series' own units. */
  expected: Float64Array;
  /** The values whose reconstruction error stays within the threshold: the band the model calls usual. */
  lower: Float64Array;
  upper: Float64Array;
  /** Reconstruction error in the model's scaled units; NaN where the value is missing. */
  error: Float64Array;
  /** (error - training mean) / training standard deviation: the k of the k-sigma rule; NaN where the value is missing. */
  score: Float64Array;
  /** 1 where the point lies in a flat-line: the series stopped moving, as it never did at that hour in training. */
  flatLine: Uint8Array;
  /** 1 where score exceeds the model's sigmas (k) or the point lies in a flat-line, else 0 (also for missing values). */
  isAnomaly: Uint8Array;
}

/**
 * Scores a series (evenly spaced points such as one sensor's bytes per minute; NaN for a missing
 * point) with a trained model: transformed and scaled with the training range, reconstructed window
 * by window, and flagged where the reconstruction error exceeds mean + k * std of the training
 * errors, or where the series stopped moving (a flat-line, see flat-line.ts). Pure and
 * deterministic: the same model and series give the same bits.
 *
 * @param timestampsMs epoch milliseconds of each point, for its time of day and week (UTC).
 * @example
 * const { model } = trainAutoencoder(minuteStartsOf28Days, bytesOf28Days);
 * const { expected, isAnomaly } = scoreWithAutoencoder(model, minuteStartsToday, bytesToday);
 * @throws InputError when the series is shorter than one window, its arrays differ in length, or
 *   it holds an infinite value (or one log1p cannot take).
 */
export function scoreWithAutoencoder(model: AutoencoderModel, timestampsMs: Float64Array, values: Float64Array): AutoencoderScores {
  checkSeries(timestampsMs, values, 'scoreWithAutoencoder');
  const windowSize = windowSizeOf(model);
  if (values.length < windowSize) {
    throw new InputError(`scoreWithAutoencoder: the series has ${values.length} points, fewer than the window of ${windowSize}`);
  }
  const scaled = scaledSeries(values, model, 'scoreWithAutoencoder');
  const reconstructed = reconstructSeries(model, scaled, timestampsMs);
  const range = model.scaleMax - model.scaleMin;
  const n = values.length;
  const threshold = model.errorMean + model.sigmas * model.errorStd;
  const expected = new Float64Array(n);
  const lower = new Float64Array(n);
  const upper = new Float64Array(n);
  const error = new Float64Array(n);
  const score = new Float64Array(n);
  const flatLine = flagFlatLines(scaled, values, timestampsMs, model.flatLineWindow, model.flatLineLimits);
  const isAnomaly = new Uint8Array(n);
  const inSeriesUnits = (scaledValue: number) => untransformValue(model.scaleMin + scaledValue * range, model.valueTransform);
  for (let t = 0; t < n; t++) {
    expected[t] = inSeriesUnits(reconstructed[t]);
    lower[t] = inSeriesUnits(reconstructed[t] - threshold);
    upper[t] = inSeriesUnits(reconstructed[t] + threshold);
    if (Number.isNaN(values[t])) {
      error[t] = score[t] = Number.NaN;
      continue;
    }
    error[t] = reconstructionError(scaled[t], reconstructed[t]);
    score[t] = (error[t] - model.errorMean) / model.errorStd;
    isAnomaly[t] = score[t] > model.sigmas || flatLine[t] === 1 ? 1 : 0;
  }
  return { expected, lower, upper, error, score, flatLine, isAnomaly };
}
