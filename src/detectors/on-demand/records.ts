/**
 * Detection on records sent with a request (rides with distance and time): the detector learns from
 * the records themselves and judges each of them.
 */
import { z } from 'zod';
import { dbscan, nearestCoreDistance } from '../dbscan/index.js';
import { explainByConditionalBands } from '../explain.js';
import { standardScale } from '../scaling.js';
import { isolationForestVerdicts, IsolationForestParamsSchema } from './forest.js';
import { emptyVerdicts, formatValue, parseParams, type Verdicts } from './verdicts.js';

const DbscanParamsSchema = z
  .object({
    /** Neighbourhood radius, in standard deviations when scaled. */
    eps: z.number().positive().default(0.3),
    minSamples: z.number().int().min(1).max(10_000).default(10),
    scale: z.enum(['standard', 'none']).default('standard'),
  })
  .strict();

/**
 * DBSCAN's noise points are the anomalies, scored 1 - eps / d (d: scaled distance to the nearest
 * core point) and explained by the feature most surprising given the next one, as the pipeline's
 * DBSCAN step does.
 */
function dbscanVerdicts(columns: readonly Float64Array[], features: readonly string[], params: z.infer<typeof DbscanParamsSchema>): Verdicts {
  const scaled = params.scale === 'standard' ? standardScale(columns).scaled : columns;
  const { labels, isCore } = dbscan(scaled, { eps: params.eps, minSamples: params.minSamples });
  const verdicts = emptyVerdicts(labels.length, new Float64Array(labels.length).fill(Number.NaN));
  const noise: number[] = [];
  for (let row = 0; row < labels.length; row++) {
    verdicts.score[row] = 0;
    if (labels[row] < 0) noise.push(row);
  }
  const distances = nearestCoreDistance(scaled, isCore, noise);
  const bands = explainByConditionalBands(columns, labels, noise);
  noise.forEach((row, k) => {
    const band = bands[k];
    verdicts.anomalous[row] = 1;
    verdicts.score[row] = Number.isFinite(distances[k]) ? Math.max(0, 1 - params.eps / distances[k]) : 1;
    verdicts.feature[row] = band.feature;
    verdicts.value[row] = band.value;
    verdicts.expected[row] = band.expected;
    verdicts.lower[row] = band.low;
    verdicts.upper[row] = band.high;
    const feature = `${features[band.feature]} ${formatValue(band.value)}`;
    if (!Number.isFinite(band.expected)) {
      verdicts.reasons.push(`${feature}: no cluster of records to compare with`);
      return;
    }
    const similar = band.givenFeature === band.feature ? 'the records' : `records of similar ${features[band.givenFeature]}`;
    verdicts.reasons.push(`${feature} is ${Math.abs(band.sigmas).toFixed(1)}σ ${band.sigmas >= 0 ? 'above' : 'below'} ${similar} (expected ${formatValue(band.low)}–${formatValue(band.high)})`);
  });
  return verdicts;
}

const RECORD_DETECTOR_TABLE = {
  dbscan: { params: DbscanParamsSchema, verdicts: dbscanVerdicts },
  iforest: { params: IsolationForestParamsSchema, verdicts: isolationForestVerdicts },
} as const;

export type RecordDetectorName = keyof typeof RECORD_DETECTOR_TABLE;
/** Detectors that judge records by their features: `dbscan` (1 to 4 features) and `iforest`. */
export const RECORD_DETECTORS = Object.keys(RECORD_DETECTOR_TABLE) as RecordDetectorName[];

/** `params` of a record detector checked, defaults filled (InputError naming the wrong field). */
export function recordParams(detector: RecordDetectorName, params: unknown): object {
  return parseParams<object>(RECORD_DETECTOR_TABLE[detector].params, detector, params);
}

/**
 * Judges every record, given as one column per feature (all finite), with a record detector fitted
 * on the records themselves.
 *
 * @example
 * const verdicts = detectRecordColumns('dbscan', [rideDistKm, rideTimeMin], ['ride_dist_km', 'ride_time_min'], { eps: 0.3 });
 * // verdicts.reasons[0]: "ride_time_min 94 is 6.1σ above records of similar ride_dist_km (expected 9–31)"
 * @throws InputError on wrong params or columns the detector cannot take.
 */
export function detectRecordColumns(detector: RecordDetectorName, columns: readonly Float64Array[], features: readonly string[], params: unknown): Verdicts {
  // Each entry's verdicts take its own params; the table pairs them, so the cast only forgets which entry.
  const verdicts = RECORD_DETECTOR_TABLE[detector].verdicts as (columns: readonly Float64Array[], features: readonly string[], params: object) => Verdicts;
  return verdicts(columns, features, recordParams(detector, params));
}
