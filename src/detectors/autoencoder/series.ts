/** Checks of a series given as timestamps and values, and its missing points filled for the kernels that need every point. */
import { InputError } from '../../errors.js';

/**
 * A copy of `series` with each missing value (NaN) replaced by linear interpolation between its
 * observed neighbours, or the nearest observed value before the first or after the last one.
 *
 * @param caller named in the error message.
 * @throws InputError on an infinite value or a series without any observed value.
 */
export function interpolateMissing(series: Float64Array, caller: string): Float64Array {
  const filled = new Float64Array(series.length);
  let lastObserved = -1;
  for (let t = 0; t < series.length; t++) {
    const value = series[t];
    if (value === Infinity || value === -Infinity) throw new InputError(`${caller}: value ${value} at index ${t}; use NaN for a missing value`);
    if (value !== value) continue;
    filled[t] = value;
    const from = lastObserved < 0 ? value : filled[lastObserved];
    for (let gap = lastObserved + 1; gap < t; gap++) filled[gap] = from + ((value - from) * (gap - lastObserved)) / (t - lastObserved);
    lastObserved = t;
  }
  if (lastObserved < 0) throw new InputError(`${caller}: the series has no observed (non-NaN) value`);
  filled.fill(filled[lastObserved], lastObserved + 1);
  return filled;
}

/** Checks that timestamps and values are Float64Arrays of one length with finite timestamps. */
export function checkSeries(timestampsMs: Float64Array, values: Float64Array, caller: string): void {
  if (!(timestampsMs instanceof Float64Array) || !(values instanceof Float64Array)) {
    throw new InputError(`${caller}: timestampsMs and values must be Float64Arrays`);
  }
  if (timestampsMs.length !== values.length) throw new InputError(`${caller}: ${timestampsMs.length} timestamps but ${values.length} values`);
  for (let t = 0; t < timestampsMs.length; t++) {
    if (!Number.isFinite(timestampsMs[t])) throw new InputError(`${caller}: timestamp ${timestampsMs[t]} at index ${t}`);
  }
}
