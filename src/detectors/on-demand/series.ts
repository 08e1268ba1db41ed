/**
 * Detection on one series sent with a request (a day of a sensor's bytes per minute, a route's
 * daily delays): the detector learns from the series itself and judges each of its points.
 */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { arimaLabel, detectArimaAnomalies, seasonalPeriodOf } from '../arima/index.js';
import { usualStepMs } from '../series-spacing.js';
import { detectShallow } from '../shallow/index.js';
import { newStreamState, scoreStream, STREAM_KIND } from '../stream/index.js';
import { isolationForestVerdicts, IsolationForestParamsSchema } from './forest.js';
import { emptyVerdicts, formatValue, parseParams, type Verdicts } from './verdicts.js';

const ShallowParamsSchema = z
  .object({
    trees: z.number().int().min(1).max(1000).default(100),
    contamination: z.number().gt(0).max(0.5).default(0.01),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  })
  .strict();

// Orders are bounded below the kernel's own limit: the search's cost grows fast with them.
const order = z.number().int().min(0).max(5);
const ArimaParamsSchema = z
  .object({
    maxP: order.default(5),
    maxQ: order.default(5),
    maxD: z.number().int().min(0).max(2).default(1),
    order: z.tuple([order, z.number().int().min(0).max(2), order]).optional(),
    intervalSigmas: z.number().positive().max(10).optional(),
    minHistory: z.number().int().min(3).default(30),
    search: z.enum(['stepwise', 'grid']).default('stepwise'),
    /** Season length in points; default from the points' spacing (7 daily, 24 hourly, 48 half-hourly, else none); 0: no seasonal terms. */
    period: z.union([z.literal(0), z.number().int().min(2).max(168)]).optional(),
  })
  .strict();

/** The streaming detector's options (see detectors/stream): the defaults are meant to hold on any minute-to-hour series. */
export const StreamParamsSchema = z
  .object({
    threshold: z.number().positive().max(100).default(5),
    clip: z.number().positive().max(100).default(3),
    calmPoints: z.number().int().min(1).max(10_000).default(5),
    warmupPoints: z.number().int().min(0).default(100),
    repeatChance: z.number().gt(0).lt(1).default(1e-6),
    tailShare: z.number().gt(0).lt(0.5).default(0.001),
    tailMargin: z.number().min(0).max(100).default(1.5),
    shiftSigmas: z.number().positive().max(100).default(2),
    shiftPoints: z.number().positive().max(10_000).default(5),
  })
  .strict();
export type StreamParams = z.infer<typeof StreamParamsSchema>;

/** The reason of a streaming detector's alert at point `t`. */
export function streamReason(result: StreamResultOf, values: Float64Array, t: number): string {
  if (result.kind[t] === STREAM_KIND.repeated) return `value ${formatValue(values[t])} repeated ${result.repeats[t]} times in a row, far longer than this series repeats itself`;
  const side = result.zScore[t] > 0 ? 'above' : 'below';
  return `value ${formatValue(values[t])} is ${Math.abs(result.zScore[t]).toFixed(1)}σ ${side} the expected ${formatValue(result.expected[t])} for this hour (band ${formatValue(result.lower[t])}–${formatValue(result.upper[t])})`;
}
type StreamResultOf = ReturnType<typeof scoreStream>;

/** The streaming detector on a series sent with a request: a fresh state, learning as it goes (no alert in its first day). */
function streamVerdicts(timestampsMs: Float64Array, values: Float64Array, params: StreamParams): Verdicts {
  const result = scoreStream(newStreamState(), timestampsMs, values, params);
  const verdicts = { ...emptyVerdicts(values.length, values), anomalous: result.isAnomaly, score: result.score, expected: result.expected, lower: result.lower, upper: result.upper };
  for (let t = 0; t < values.length; t++) if (result.isAnomaly[t] === 1) verdicts.reasons.push(streamReason(result, values, t));
  return verdicts;
}

function shallowVerdicts(timestampsMs: Float64Array, values: Float64Array, params: z.infer<typeof ShallowParamsSchema>): Verdicts {
  const result = detectShallow(timestampsMs, values, params);
  const verdicts = { ...emptyVerdicts(values.length, values), anomalous: result.isAnomaly, score: result.score, expected: result.expected };
  for (let t = 0; t < values.length; t++) {
    if (result.isAnomaly[t] === 1) verdicts.reasons.push(`value ${formatValue(values[t])} where ${formatValue(result.expected[t])} was expected (isolated from its neighbourhood, score ${result.score[t].toFixed(2)})`);
  }
  return verdicts;
}

function arimaVerdicts(timestampsMs: Float64Array, values: Float64Array, params: z.infer<typeof ArimaParamsSchema>): Verdicts {
  const result = detectArimaAnomalies(values, { ...params, period: params.period ?? seasonalPeriodOf(usualStepMs(timestampsMs) ?? 0) });
  if (result.skipped !== null) throw new InputError(`arima cannot model this series: ${result.skipped.message}`);
  const verdicts = { ...emptyVerdicts(values.length, values), anomalous: result.isAnomaly, score: result.score, expected: result.expected, lower: result.lower, upper: result.upper };
  // A series not skipped has its model.
  const model = arimaLabel(result.model!);
  for (let t = 0; t < values.length; t++) {
    if (result.isAnomaly[t] === 0) continue;
    const side = values[t] > result.upper[t] ? 'above' : 'below';
    verdicts.reasons.push(`value ${formatValue(values[t])} is ${Math.abs(result.zScore[t]).toFixed(1)}σ ${side} ${model}'s prediction ${formatValue(result.expected[t])} (interval ${formatValue(result.lower[t])}–${formatValue(result.upper[t])})`);
  }
  return verdicts;
}

const SERIES_DETECTOR_TABLE = {
  shallow: { params: ShallowParamsSchema, verdicts: shallowVerdicts },
  arima: { params: ArimaParamsSchema, verdicts: arimaVerdicts },
  stream: { params: StreamParamsSchema, verdicts: streamVerdicts },
  iforest: {
    params: IsolationForestParamsSchema,
    verdicts: (_timestampsMs: Float64Array, values: Float64Array, params: z.infer<typeof IsolationForestParamsSchema>) => isolationForestVerdicts([values], ['value'], params),
  },
} as const;

export type SeriesDetectorName = keyof typeof SERIES_DETECTOR_TABLE;
/** Detectors that judge a series by itself: `shallow` (rb-aioutliers' default), `arima`, `stream`, `iforest`. */
export const SERIES_DETECTORS = Object.keys(SERIES_DETECTOR_TABLE) as SeriesDetectorName[];

/** `params` of a series detector checked, defaults filled (InputError naming the wrong field). */
export function seriesParams(detector: SeriesDetectorName, params: unknown): object {
  return parseParams<object>(SERIES_DETECTOR_TABLE[detector].params, detector, params);
}

/**
 * Judges every point of a series (ascending timestamps, NaN for a missing value) with a series
 * detector fitted on the series itself.
 *
 * @example
 * const verdicts = detectSeries('shallow', minuteStartsMs, bytesPerMinute, {});
 * // verdicts.anomalous[t] === 1 for the points that stand out; verdicts.expected[t]: the smoothed value
 * @throws InputError on wrong params or a series the detector cannot take (infinite values,
 *   too few points, nothing ARIMA can model).
 */
export function detectSeries(detector: SeriesDetectorName, timestampsMs: Float64Array, values: Float64Array, params: unknown): Verdicts {
  const entry = SERIES_DETECTOR_TABLE[detector];
  // Each entry's verdicts take its own params; the table pairs them, so the cast only forgets which entry.
  const verdicts = entry.verdicts as (timestampsMs: Float64Array, values: Float64Array, params: object) => Verdicts;
  return verdicts(timestampsMs, values, seriesParams(detector, params));
}
