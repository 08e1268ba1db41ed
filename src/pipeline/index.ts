/**
 * Pipelines: a run is a graph of steps (clean → quality → aggregate → detect → publish), each
 * split into partitions (date chunks, entity shards, days) that run as jobs on a queue, in this
 * process or on workers. Every step reads and writes the lake, so any process can take any step.
 */
export { startRun, resumeRun, rerunRun, backfill, changedInputs, runParamsOf } from './runs.js';
export type { BackfillOptions, BackfillResult, ChangedInput } from './runs.js';
export { pipelineScheduler } from './schedule.js';
export type { PipelineSchedulerOptions } from './schedule.js';
export { executeRun, stepJobHandler, STEP_JOB } from './executor.js';
export type { RunResult, RunServices, StepEvent, StepServices } from './executor.js';
export { pipelineLayout } from './layout.js';
export { planRun, STEP_NAMES } from './plan.js';
export type { StepName } from './plan.js';
export type { RunParams, CleanedDate, CheckedDate } from './context.js';
export type { PublishedAnomaly, RunSummary } from './publish.js';
export type { ClusterSummary, InjectedRecall, RecordDetectionFacts, RecordTable } from './record-detect.js';
export { describeOutlier, detectRecords } from './record-detect.js';
export { detectDbscanFile, detectIsolationForestFile } from './detect-file.js';
export type {
  DbscanFileOptions,
  DbscanFileResult,
  DetectFileOptions,
  DetectFileResult,
  IsolationForestFileOptions,
} from './detect-file.js';
export { ingestFile, ingestPartitionedFile } from './ingest.js';
export type {
  IngestResult,
  ManifestEntry,
  PartitionedIngestOptions,
  PartitionedIngestResult,
  PartitionIngestResult,
  UnplaceableReason,
  UnplacedReport,
  UnplacedRow,
} from './ingest.js';
