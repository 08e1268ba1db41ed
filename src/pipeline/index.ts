/**
 * Pipelines: a run is a graph of steps (clean → quality → aggregate → detect → publish; a training
 * run: train), each split into partitions (date chunks, entity shards, days) that run as jobs on a
 * queue, in this process or on workers. Every step reads and writes the lake, so any process can
 * take any step. Trained models live in the registry (run store) with their artifacts in the lake.
 */
export { startRun, resumeRun, rerunRun, submitRun, submitResume, submitRerun, recordedInputs, backfill, changedInputs, runParamsOf } from './runs.js';
export type { BackfillOptions, BackfillResult, ChangedInput, SubmittedRun } from './runs.js';
export { pipelineScheduler, trainingScheduleKey } from './schedule.js';
export { readTrainingSummary, recordTrainingSummary, startTrainingRun, trainingParamsOf } from './training.js';
export type { TrainingOptions, TrainingResult, TrainingSummary } from './training.js';
export { copyProductionModels, findModelVersion, formatMetric, loadModel, loadSupervisedModel, ModelKindError, parseModelRef, promoteModelVersion, promotionDecision, PROMOTION_METRIC, rollbackModel, supervisedFactsOf } from './models.js';
export type { LoadedModel, LoadedSupervisedModel, PromotionDecision, PromotionResult, SupervisedFacts } from './models.js';
export { predictProbabilities } from './prediction.js';
export { ModelCache } from './model-cache.js';
export type { ModelCacheOptions } from './model-cache.js';
export type { TrainedModel, TrainOutput } from './steps/train.js';
export type { PipelineSchedulerOptions } from './schedule.js';
export { executeRun, stepJobHandler } from './executor.js';
export { checkStaleness, driftVerdict, flagRateVerdict, performanceVerdict, staleVerdict, watchStaleness } from './alarms.js';
export type { AlarmName, AlarmVerdict } from './alarms.js';
export type { MonitoredDate } from './steps/monitor.js';
export { partitionLabel, STEP_JOB, STEP_KINDS, StepJobSchema } from './contract.js';
export type { DateSpan, EntityShard, RecordDay, StepJob, StepKind, StepPartition, TrainShard, WholeRun } from './contract.js';
export type { RunResult, RunServices, StepEvent, StepServices } from './executor.js';
export { pipelineLayout, pipelineTables } from './layout.js';
export { planRun } from './plan.js';
export { paramsOf } from './context.js';
export type { RunParams, RunTrigger, CleanedDate, CheckedDate, InputFile, ResolvedModels, TrainingRequest } from './context.js';
export type { PublishedAnomaly, RunSummary } from './steps/publish.js';
export { sumLabelledIncidents } from './labelled-incidents.js';
export type { IncidentCounts, LabelledIncidents } from './labelled-incidents.js';
export type { ClusterSummary, ConditionalFacts, DbscanFacts, InjectedEvaluation, InjectedRecall, PatternFacts, RecordDetectionFacts, RecordTable, VehiclePatternFacts } from './record-detect.js';
export { describeOutlier, detectRecords } from './record-detect.js';
export { detectDbscanFile, detectIsolationForestFile } from './detect-file.js';
export { evaluateDetector, evaluateRecordDetector, parseTimestamp } from './evaluate.js';
export type { EvaluateOptions, Evaluation, FileEvaluation, LabelRecall, RecordEvaluateOptions, RecordEvaluation } from './evaluate.js';
export type {
  DbscanFileOptions,
  DbscanFileResult,
  DetectFileOptions,
  DetectFileResult,
  IsolationForestFileOptions,
} from './detect-file.js';
export { ingestFile, ingestPartitionedFile } from './ingest.js';
export { announceLanded, consumeLanded, consumeStorageEvents, landedEvents, landedOfStorageEvent, landedPipelines, runForLanded } from './landed.js';
export type { LandedConsumerOptions, LandedFile, LandedOutcome } from './landed.js';
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
export { listSeriesEntities, readDayRecords, RECORD_DETECTOR_KINDS, SERIES_DETECTOR_KINDS, readEntitySeries, readQuarantine } from './explore.js';
export type { DayRecords, EntitySeries, QuarantineSample, RecordAxis } from './explore.js';
