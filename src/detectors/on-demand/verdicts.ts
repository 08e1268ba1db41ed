/** What a detector says about each point of data sent with a request, and the checks of its params. */
import type { z } from 'zod';
import { InputError } from '../../errors.js';

/**
 * Per point (a series' point or a record), indexed like the input. `value`, `expected`, `lower` and
 * `upper` are about feature `feature[i]` (always 0 for a series); NaN where the detector has none.
 */
export interface Verdicts {
  anomalous: Uint8Array;
  /** 0..1, higher is more anomalous; NaN for a missing point. */
  score: Float64Array;
  value: Float64Array;
  expected: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  feature: Int32Array;
  /** Why, one line for each anomalous point, in index order. */
  reasons: string[];
}

/** Verdicts of `count` points with nothing said yet: NaN bands, nothing anomalous. */
export function emptyVerdicts(count: number, values: Float64Array): Verdicts {
  const none = () => new Float64Array(count).fill(Number.NaN);
  return { anomalous: new Uint8Array(count), score: none(), value: values, expected: none(), lower: none(), upper: none(), feature: new Int32Array(count), reasons: [] };
}

/** `params` checked against a detector's schema, defaults filled; InputError naming the first wrong field. */
export function parseParams<Params>(schema: z.ZodType<Params>, detector: string, params: unknown): Params {
  const result = schema.safeParse(params ?? {});
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  const field = issue.code === 'unrecognized_keys' ? issue.keys[0] : issue.path.join('.');
  throw new InputError(`${detector} params${field ? `.${field}` : ''}: ${issue.code === 'unrecognized_keys' ? 'unknown parameter' : issue.message}`);
}

/** A value as explanations print it: four significant digits, whole numbers from 1000 up. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 1000 ? Math.round(value).toString() : Number(value.toPrecision(4)).toString();
}

/** The 10th, 50th and 90th percentile of `values` at the rows not flagged (NaN when there are none). */
export function usualRange(values: Float64Array, anomalous: Uint8Array): { low: number; median: number; high: number } {
  const kept = Float64Array.from(values.filter((value, row) => anomalous[row] === 0 && value === value)).sort();
  const at = (q: number) => (kept.length === 0 ? Number.NaN : kept[Math.min(kept.length - 1, Math.floor(q * kept.length))]);
  return { low: at(0.1), median: at(0.5), high: at(0.9) };
}
