/**
 * Flat-lines: a sensor whose counter stops moving (an exporter repeating its last counters, a
 * frozen poller). The autoencoder cannot see one, since a constant window is what it reconstructs
 * best; so a second, simpler check looks at how much the series moves.
 *
 * Stillness of a window = the mean absolute change between consecutive observed points, in the
 * model's scaled units. From the training series, per hour of the day (UTC), the limit below which a
 * window counts as a flat-line is the lower of:
 * - far below usual: median - k * sigma of the log stillness of that hour's windows (sigma from the
 *   median absolute deviation, so the training weeks' own incidents do not widen it), k being the
 *   model's `sigmas`;
 * - stiller than the sensor ever was at that hour but on a few days: the third smallest of the
 *   hour's per-day minima. A sensor that is quiet at night (zeros, the same small count) is still on
 *   most nights, so that stillness is normal for it; a flat-line in the training weeks is a one-off
 *   and does not teach the model that flat-lines are normal.
 * Every point of a window stiller than its limit is flagged. Measured on the traffic sample (20
 * sensors, trained on 28 days, next 7 days): 15 of 15 flat-lines found, 0.06% of normal minutes
 * flagged by this check (the stuck value repeats the minute before the incident, which is normal).
 * The same sample with counts divided by 10^7 (most quiet hours at 0): 0.3% instead of 5.4% with
 * the first limit alone.
 */
import { DAY_MS } from './model.js';

/** Hours of the day, each with its own limit. */
export const FLAT_LINE_HOURS = 24;
/** A flat-line must be stiller than this many of the training days were at its hour (see the module comment). */
const RECURRING_DAYS = 3;
/** 1 / Φ⁻¹(3/4): turns a median absolute deviation into a normal standard deviation. */
const MAD_TO_SIGMA = 1.4826;

/**
 * Stillness of the window of `window` changes ending at each point (NaN where fewer than half of its
 * changes are between observed points). `observed(t)` says whether point t was observed (not
 * interpolated), since an interpolated gap is a straight line that would look still.
 */
function windowStillness(scaled: Float64Array, observed: (t: number) => boolean, window: number): Float64Array {
  const stillness = new Float64Array(scaled.length).fill(Number.NaN);
  const change = (t: number) => (observed(t) && observed(t - 1) ? Math.abs(scaled[t] - scaled[t - 1]) : Number.NaN);
  let sum = 0;
  let count = 0;
  for (let t = 1; t < scaled.length; t++) {
    const entering = change(t);
    if (entering === entering) (sum += entering), count++;
    if (t > window) {
      const leaving = change(t - window);
      if (leaving === leaving) (sum -= leaving), count--;
    }
    // Clamped: removing what was added may leave a rounding residue just below 0.
    if (t >= window && 2 * count >= window) stillness[t] = Math.max(0, sum / count);
  }
  return stillness;
}

/** Hour of the day (UTC) of the middle of the window ending at t. */
function hourOfWindow(timestampsMs: Float64Array, t: number, window: number): number {
  const time = timestampsMs[t - (window >> 1)];
  return Math.floor(((((time % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS) * FLAT_LINE_HOURS);
}

function median(sorted: Float64Array): number {
  return sorted[sorted.length >> 1];
}

/**
 * The stillness limit of each hour of the day, learnt from a training series (see the module
 * comment); 0 for an hour without enough training days, where nothing is flagged.
 */
export function learnFlatLineLimits(scaled: Float64Array, values: Float64Array, timestampsMs: Float64Array, window: number, sigmas: number): number[] {
  const stillness = windowStillness(scaled, (t) => values[t] === values[t], window);
  const byHour: number[][] = Array.from({ length: FLAT_LINE_HOURS }, () => []);
  const dayMinimaByHour: Map<number, number>[] = Array.from({ length: FLAT_LINE_HOURS }, () => new Map());
  for (let t = window; t < scaled.length; t++) {
    if (stillness[t] !== stillness[t]) continue;
    const hour = hourOfWindow(timestampsMs, t, window);
    byHour[hour].push(Math.log(stillness[t]));
    const day = Math.floor(timestampsMs[t - (window >> 1)] / DAY_MS);
    const minima = dayMinimaByHour[hour];
    minima.set(day, Math.min(minima.get(day) ?? Infinity, stillness[t]));
  }
  return byHour.map((logs, hour) => {
    const dayMinima = Float64Array.from(dayMinimaByHour[hour].values()).sort();
    if (dayMinima.length < RECURRING_DAYS) return 0;
    const sorted = Float64Array.from(logs).sort();
    const middle = median(sorted);
    const sigma = MAD_TO_SIGMA * median(sorted.map((log) => Math.abs(log - middle)).sort());
    // exp(-Infinity) = 0 when most windows of the hour are perfectly still: then nothing is flagged.
    const farBelow = Math.exp(middle - sigmas * sigma);
    return Math.min(Number.isFinite(farBelow) ? farBelow : 0, dayMinima[RECURRING_DAYS - 1]);
  });
}

/** 1 for each observed point of a window stiller than its hour's limit. */
export function flagFlatLines(scaled: Float64Array, values: Float64Array, timestampsMs: Float64Array, window: number, limits: readonly number[]): Uint8Array {
  const observed = (t: number) => values[t] === values[t];
  const stillness = windowStillness(scaled, observed, window);
  const flags = new Uint8Array(scaled.length);
  for (let t = window; t < scaled.length; t++) {
    if (!(stillness[t] < limits[hourOfWindow(timestampsMs, t, window)])) continue;
    for (let point = t - window; point <= t; point++) if (observed(point)) flags[point] = 1;
  }
  return flags;
}
