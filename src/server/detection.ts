/**
 * Where a request's detection runs: detectors that fit on the request's data go to the thread
 * pool; scoring with a registered model (a loaded model, linear in the points) runs inline.
 */
import { scoreWithTrainedModel, type RecordDetectorName, type SeriesDetectorName, type Verdicts } from '../detectors/index.js';
import { InputError, oneLine } from '../errors.js';
import type { LoadedModel, ModelCache } from '../pipeline/index.js';
import { DetectorPool } from './detect-pool.js';
import { ApiError } from './errors.js';
import type { RequestRecords, RequestSeries } from './series.js';

export class Detection {
  private readonly pool: DetectorPool;

  constructor(
    private readonly models: ModelCache,
    threads: number,
  ) {
    this.pool = new DetectorPool(threads);
  }

  /** A series detector fitted on the series itself, on a pool thread. */
  series(detector: SeriesDetectorName, series: RequestSeries, params: unknown, signal?: AbortSignal): Promise<Verdicts> {
    return this.pool.run({ kind: 'series', detector, timestampsMs: series.timestampsMs, values: series.values, params }, signal);
  }

  /** A record detector fitted on the records themselves, on a pool thread. */
  records(detector: RecordDetectorName, records: RequestRecords, features: string[], params: unknown, signal?: AbortSignal): Promise<Verdicts> {
    return this.pool.run({ kind: 'records', detector, columns: records.columns, features, params }, signal);
  }

  /** The production version of a registered model, null when the registry has none; ApiError 503 when it cannot be loaded. */
  async production(name: string): Promise<LoadedModel | null> {
    try {
      return await this.models.production(name);
    } catch (error) {
      throw new ApiError(503, `model ${name} cannot be served now: ${oneLine(error)}`, { cause: error });
    }
  }

  /**
   * Scores `columns` (one per feature of the model, in its order) with a loaded model; a series
   * detector places the rows by `timestampsMs` (NaN for records, which have no time).
   */
  withModel(model: LoadedModel, columns: Float64Array[], timestampsMs: Float64Array): Verdicts {
    if (columns.length !== model.features.length) {
      throw new InputError(`model ${model.record.name} scores ${model.features.length} features (${model.features.join(', ')}), got ${columns.length}`);
    }
    const rows = { features: model.features, columns, timestampsMs };
    return scoreWithTrainedModel(model.detector, model.model, rows, `${model.record.name} v${model.record.version}`);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
