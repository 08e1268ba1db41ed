/**
 * How well series detectors forecast: each point's `expected` is the detector's one-step forecast
 * of it, compared with the value over every point of a date, not only the flagged ones. Detect
 * partitions keep error sums (they add up over entity shards and threads); the monitor step turns
 * the sums of a date into its MAE and MAPE.
 */
import { z } from 'zod';
import type { ForecastRow, ModelRef } from '../store/index.js';

/** Detectors whose `expected` forecasts the point; Isolation Forest's is the entity's usual median, no forecast. */
const FORECASTING_DETECTORS: ReadonlySet<string> = new Set(['arima', 'stream', 'autoencoder', 'shallow']);

/** Whether `detector`'s expected values are forecasts whose errors are measured. */
export function isForecaster(detector: string): boolean {
  return FORECASTING_DETECTORS.has(detector);
}

/** One (date, detector, model version)'s forecast errors, as sums. */
export interface ForecastErrorSums {
  date: string;
  detector: string;
  /** The registered model that forecast (its name without the entity), when one did. */
  model?: ModelRef;
  /** Points with both a value and a forecast. */
  points: number;
  /** Sum of |value − forecast|. */
  absoluteError: number;
  /** Of the points, those whose value is not zero: a percentage of zero is no number, so MAPE leaves them out. */
  nonZeroPoints: number;
  /** Sum of |value − forecast| / |value| over them. */
  relativeError: number;
}

export const ForecastErrorSumsSchema: z.ZodType<ForecastErrorSums> = z.object({
  date: z.string(),
  detector: z.string(),
  model: z.object({ name: z.string(), version: z.number() }).optional(),
  points: z.number(),
  absoluteError: z.number(),
  nonZeroPoints: z.number(),
  relativeError: z.number(),
});

/** Forecast errors added up per (date, detector, model version) as points and partial sums come. */
export class ForecastErrors {
  readonly #groups = new Map<string, ForecastErrorSums>();

  #group(date: string, detector: string, model: ModelRef | undefined): ForecastErrorSums {
    const key = JSON.stringify([date, detector, model?.name ?? null, model?.version ?? null]);
    let group = this.#groups.get(key);
    if (group === undefined) {
      group = { date, detector, ...(model === undefined ? {} : { model }), points: 0, absoluteError: 0, nonZeroPoints: 0, relativeError: 0 };
      this.#groups.set(key, group);
    }
    return group;
  }

  /** Adds points `k` of `values` and `expected` (a point missing either is left out), each of date `dateOf(k)`. */
  addPoints(detector: string, model: ModelRef | undefined, dateOf: (k: number) => string, values: ArrayLike<number>, expected: ArrayLike<number>): void {
    let date: string | undefined;
    let group: ForecastErrorSums | undefined;
    for (let k = 0; k < values.length; k++) {
      const value = values[k];
      const forecast = expected[k];
      if (!Number.isFinite(value) || !Number.isFinite(forecast)) continue;
      const day = dateOf(k);
      if (group === undefined || day !== date) {
        date = day;
        group = this.#group(day, detector, model);
      }
      const error = Math.abs(value - forecast);
      group.points++;
      group.absoluteError += error;
      if (value !== 0) {
        group.nonZeroPoints++;
        group.relativeError += error / Math.abs(value);
      }
    }
  }

  /** Adds sums kept elsewhere (another shard's, another thread's). */
  addSums(parts: readonly ForecastErrorSums[]): this {
    for (const part of parts) {
      const group = this.#group(part.date, part.detector, part.model);
      group.points += part.points;
      group.absoluteError += part.absoluteError;
      group.nonZeroPoints += part.nonZeroPoints;
      group.relativeError += part.relativeError;
    }
    return this;
  }

  sums(): ForecastErrorSums[] {
    return [...this.#groups.values()];
  }
}

/** Sums of the same (date, detector, model version) added into one. */
export function mergeForecastErrors(parts: readonly ForecastErrorSums[]): ForecastErrorSums[] {
  return new ForecastErrors().addSums(parts).sums();
}

/**
 * Each (date, detector, model version)'s MAE and MAPE (in percent, over the points whose value is
 * not zero; null when every value is zero), by date, detector, then model (none first).
 */
export function forecastAccuracy(parts: readonly ForecastErrorSums[]): ForecastRow[] {
  return mergeForecastErrors(parts)
    .filter((sums) => sums.points > 0)
    .map((sums) => ({
      date: sums.date,
      detector: sums.detector,
      model: sums.model ?? null,
      points: sums.points,
      mae: sums.absoluteError / sums.points,
      mapePoints: sums.nonZeroPoints,
      mape: sums.nonZeroPoints === 0 ? null : (100 * sums.relativeError) / sums.nonZeroPoints,
    }))
    .sort((a, b) => byCodePoint(a.date, b.date) || byCodePoint(a.detector, b.detector) || byCodePoint(a.model?.name ?? '', b.model?.name ?? '') || (a.model?.version ?? 0) - (b.model?.version ?? 0));
}

/** Strings in code point order, as the store lists them (COLLATE "C"). */
function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
