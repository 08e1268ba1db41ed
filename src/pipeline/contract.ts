/**
 * The step contract: what a step job is (pipeline run, step kind, partition as data), what each
 * kind of step returns, and the one place both are encoded for the queue and the run store.
 *
 * A run's graph is a sequence of step kinds; each kind splits into partitions that may run in
 * parallel on any process. A step kind is a {@link StepHandler}: it plans its partitions, runs one,
 * and declares the schema of its output so that later steps read it back typed.
 */
import { z } from 'zod';
import { isIsoDate } from '../dates.js';
import type { TablePipelineConfig } from '../config/index.js';
import type { StepContext, TrainingRequest } from './context.js';

const isoDate = z.string().refine(isIsoDate, 'must be a YYYY-MM-DD date');
const index = z.number().int().min(0);

/** Consecutive dates [from, to]: the unit of clean, quality and aggregate jobs. */
export const DateSpanSchema = z.object({ kind: z.literal('dates'), from: isoDate, to: isoDate }).strict();
/** One day of records for one record detector (DBSCAN clusters a day at a time). */
export const RecordDaySchema = z.object({ kind: z.literal('record-day'), detectStep: index, detector: z.string(), date: isoDate }).strict();
/** Shard `shard` of `shards` of one series detector's entities. */
export const EntityShardSchema = z.object({ kind: z.literal('entity-shard'), detectStep: index, detector: z.string(), shard: index, shards: z.number().int().min(1) }).strict();
/** The whole run at once (publish). */
export const WholeRunSchema = z.object({ kind: z.literal('run') }).strict();
/** Shard `shard` of `shards` of the entities one training step fits a model for. */
export const TrainShardSchema = z.object({ kind: z.literal('train-shard'), trainStep: index, model: z.string().min(1), shard: index, shards: z.number().int().min(1) }).strict();

export const StepPartitionSchema = z.discriminatedUnion('kind', [DateSpanSchema, RecordDaySchema, EntityShardSchema, WholeRunSchema, TrainShardSchema]);
export type DateSpan = z.infer<typeof DateSpanSchema>;
export type RecordDay = z.infer<typeof RecordDaySchema>;
export type EntityShard = z.infer<typeof EntityShardSchema>;
export type WholeRun = z.infer<typeof WholeRunSchema>;
export type TrainShard = z.infer<typeof TrainShardSchema>;
export type StepPartition = z.infer<typeof StepPartitionSchema>;

/** The step kinds of pipeline runs, in graph order: a detection run's, then a training run's. */
export const STEP_KINDS = ['clean', 'quality', 'aggregate', 'detect', 'predict', 'publish', 'monitor', 'train'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** One step partition of one run: the data of a step job on either queue. */
export const StepJobSchema = z.object({ runId: z.string().min(1), step: z.enum(STEP_KINDS), partition: StepPartitionSchema }).strict();
export type StepJob = z.infer<typeof StepJobSchema>;

/** The queue's name for step jobs. */
export const STEP_JOB = 'pipeline-step';

/**
 * How a partition is named in `detour runs show`, in the run store's key and in job ids:
 * `2024-01-01`, `2024-01-01..2024-01-31`, `0-dbscan-2024-01-05`, `0-arima-shard1of2`, `all`,
 * `0-bus_iforest-shard1of4`.
 * Display and identity only: nothing ever parses it back; the partition itself travels as data.
 */
export function partitionLabel(partition: StepPartition): string {
  switch (partition.kind) {
    case 'dates':
      return partition.from === partition.to ? partition.from : `${partition.from}..${partition.to}`;
    case 'record-day':
      return `${partition.detectStep}-${partition.detector}-${partition.date}`;
    case 'entity-shard':
      return partition.shards > 1 ? `${partition.detectStep}-${partition.detector}-shard${partition.shard + 1}of${partition.shards}` : `${partition.detectStep}-${partition.detector}`;
    case 'run':
      return 'all';
    case 'train-shard':
      return partition.shards > 1 ? `${partition.trainStep}-${partition.model}-shard${partition.shard + 1}of${partition.shards}` : `${partition.trainStep}-${partition.model}`;
  }
}

/** The job id of a step partition: unique per run, step and partition. */
export function stepJobId(job: StepJob): string {
  return `${job.runId}/${job.step}/${partitionLabel(job.partition)}`;
}

/** What a step kind needs to be part of a run: its partitions, how to run one, and its output's schema. */
export interface StepHandler<Partition extends StepPartition = StepPartition, Output = unknown> {
  readonly kind: StepKind;
  /**
   * The step's partitions in a run of `pipeline` over `dates`; none when the pipeline has nothing
   * for it to do. `training` is set in a training run (what to train).
   */
  plan(pipeline: TablePipelineConfig, dates: readonly string[], training?: TrainingRequest): Partition[];
  /**
   * True when a partition needs only the partition of the step before it with the same label (the
   * same span of dates): it starts as soon as that one succeeded, while the step before is still
   * running other partitions. Otherwise a partition waits for every partition of the step before.
   */
  readonly chained?: boolean;
  /** True when the pipeline gives the step nothing to do: its partitions are recorded as `skipped`. */
  skipped?(pipeline: TablePipelineConfig): boolean;
  /** The partition schema, checked on every job before running it. */
  readonly partition: z.ZodType<Partition>;
  /** The output's schema: outputs are stored as JSON and read back through it. */
  readonly output: z.ZodType<Output>;
  run(context: StepContext, partition: Partition): Promise<Output>;
}
