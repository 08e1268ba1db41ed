/**
 * Detectors by name on data that arrives with a request (the HTTP API): a series or records, the
 * detector's params checked, a verdict per point with a band and a reason for each anomaly.
 */
export { detectSeries, seriesParams, SERIES_DETECTORS, streamReason, StreamParamsSchema } from './series.js';
export type { SeriesDetectorName, StreamParams } from './series.js';
export { detectRecordColumns, recordParams, RECORD_DETECTORS } from './records.js';
export type { RecordDetectorName } from './records.js';
export { scoreWithTrainedModel } from './trained.js';
export { formatValue } from './verdicts.js';
export type { Verdicts } from './verdicts.js';
