export { runRidesPipeline, ridesLayout, describeRideOutlier, RIDES_PIPELINE } from './rides.js';
export type { PipelineContext, RidesRunSummary, RideAnomaly, ClusterSummary } from './rides.js';
export { detectDbscanFile, detectIsolationForestFile } from './detect-file.js';
export type {
  DbscanFileOptions,
  DbscanFileResult,
  DetectFileOptions,
  DetectFileResult,
  IsolationForestFileOptions,
} from './detect-file.js';
export { ingestFile } from './ingest.js';
export type { IngestResult, ManifestEntry } from './ingest.js';
export { runTablePipeline, tableLayout } from './table-pipeline.js';
export type { PublishedAnomaly, StageSeconds, TableRunResult, TableRunSummary } from './table-pipeline.js';
