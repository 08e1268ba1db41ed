/**
 * Where a request's detection runs: detectors that fit on the request's data go to the thread
 * pool; scoring with a registered model (a loaded model, linear in the points) and the shallow
 * model on a series of at most a week of minutes run inline.
 */
import { detectSeries, scoreWithTrainedModel, type FeatureRows, type RecordDetectorName, type RowScores, type SeriesDetectorName, type Verdicts } from '../detectors/index.js';
import { InputError, oneLine } from '../errors.js';
import { ModelKindError, type LoadedModel, type ModelCache } from '../pipeline/index.js';
import { DetectorPool } from './detect-pool.js';
import { ApiError } from './errors.js';
import type { RequestRecords, RequestSeries } from './series.js';

/**
 * The production version of `name` from `cache`, null when the registry has none. A model of the
 * other kind (a supervised one asked to score anomalies, or the reverse) is the request's mistake:
 * InputError (400) with `hint`; one that cannot be loaded is the server's: ApiError 503.
 */
export async function servedProduction<Loaded extends { bytes: number }>(cache: ModelCache<Loaded>, name: string, hint: string): Promise<Loaded | null> {
  try {
    return await cache.production(name);
  } catch (error) {
    if (error instanceof ModelKindError) throw new InputError(`${oneLine(error)}; ${hint}`, { cause: error });
    throw new ApiError(503, `model ${name} cannot be served now: ${oneLine(error)}`, { cause: error });
  }
}

/**
 * The shallow model on up to a week of minutes takes a few milliseconds, about what handing the
 * series to a thread and its verdicts back costs (copies, wake-ups): it runs on the event loop,
 * and each serving process keeps to one core. Longer series go to the pool.
 */
const INLINE_SHALLOW_POINTS = 7 * 1440;

/** A model's rows of `columns`; InputError when they are not one per feature of the model. */
function modelRows(model: LoadedModel, columns: Float64Array[], timestampsMs: Float64Array): FeatureRows {
  if (columns.length !== model.features.length) {
    throw new InputError(`model ${model.record.name} scores ${model.features.length} features (${model.features.join(', ')}), got ${columns.length}`);
  }
  return { features: model.features, columns, timestampsMs };
}

export class Detection {
  private readonly pool: DetectorPool;

  constructor(
    private readonly models: ModelCache,
    threads: number,
  ) {
    this.pool = new DetectorPool(threads);
  }

  /** A series detector fitted on the series itself, on a pool thread (the shallow model on a short series inline). */
  async series(detector: SeriesDetectorName, series: RequestSeries, params: unknown, signal?: AbortSignal): Promise<Verdicts> {
    if (detector === 'shallow' && series.values.length <= INLINE_SHALLOW_POINTS) return detectSeries(detector, series.timestampsMs, series.values, params);
    return this.pool.run({ kind: 'series', detector, timestampsMs: series.timestampsMs, values: series.values, params }, signal);
  }

  /** A record detector fitted on the records themselves, on a pool thread. */
  records(detector: RecordDetectorName, records: RequestRecords, features: string[], params: unknown, signal?: AbortSignal): Promise<Verdicts> {
    return this.pool.run({ kind: 'records', detector, columns: records.columns, features, params }, signal);
  }

  /** The production version of a registered per-entity model (see {@link servedProduction}). */
  production(name: string): Promise<LoadedModel | null> {
    return servedProduction(this.models, name, `POST /v1/predict/${name} predicts with it`);
  }

  /**
   * Scores `columns` (one per feature of the model, in its order) with a loaded model; a series
   * detector places the rows by `timestampsMs` (NaN for records, which have no time).
   */
  withModel(model: LoadedModel, columns: Float64Array[], timestampsMs: Float64Array): Verdicts {
    return scoreWithTrainedModel(model.detector, model.model, modelRows(model, columns, timestampsMs), `${model.record.name} v${model.record.version}`);
  }

  /**
   * {@link withModel}'s scores without the reasons, for answers that give none: a model may flag
   * hundreds of a day's points, and writing their reasons costs more than scoring them.
   */
  modelScores(model: LoadedModel, columns: Float64Array[], timestampsMs: Float64Array): RowScores {
    return model.detector.score(model.model, modelRows(model, columns, timestampsMs));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
