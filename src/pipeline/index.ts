/**
 * Pipelines: a run is a graph of steps (clean → quality → aggregate → detect → publish), each
 * split into partitions (date chunks, entity shards, days) that run as jobs on a queue, in this
 * process or on workers. Every step reads and writes the lake, so any process can take any step.
 */
export { startRun, resumeRun, rerunRun, backfill, changedInputs, runParamsOf } from './runs.js';
export type { BackfillOptions, BackfillResult, ChangedInput } from './runs.js';
export { pipelineScheduler } from './schedule.js';
export type { PipelineSchedulerOptions } from './schedule.js';
export { executeRun, stepJobHandler } from './executor.js';
export { partitionLabel, STEP_JOB, STEP_KINDS, StepJobSchema } from './contract.js';
export type { DateSpan, EntityShard, RecordDay, StepJob, StepKind, StepPartition, WholeRun } from './contract.js';
export type { RunResult, RunServices, StepEvent, StepServices } from './executor.js';
export { pipelineLayout } from './layout.js';
export { planRun } from './plan.js';
export { paramsOf } from './context.js';
export type { RunParams, CleanedDate, CheckedDate } from './context.js';
export type { PublishedAnomaly, RunSummary } from './steps/publish.js';
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
