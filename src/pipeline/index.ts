export { runRidesPipeline, ridesLayout, describeRideOutlier, RIDES_PIPELINE } from './rides.js';
export type { PipelineContext, RidesRunSummary, RideAnomaly, ClusterSummary } from './rides.js';
export { detectDbscanFile } from './detect-file.js';
export type { DbscanFileOptions, DetectFileResult } from './detect-file.js';
export { ingestFile } from './ingest.js';
export type { IngestResult, ManifestEntry } from './ingest.js';
