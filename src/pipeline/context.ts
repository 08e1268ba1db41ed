import { z } from 'zod';
import type { LandedEvent } from '../bus/index.js';
import { DatasetSchema, TablePipelineSchema, type DatasetConfig, type TablePipelineConfig } from '../config/index.js';
import type { Lake } from '../lake/index.js';
import type { Logger } from '../observability/index.js';
import type { RunRecord, Store } from '../store/index.js';

/** What a training run trains: training steps by index, and only these entities when given. */
export interface TrainingRequest {
  steps: number[];
  entities?: string[];
}

/** The model versions a detect step scores with, fixed when its run starts: per entity. */
export interface ResolvedModels {
  model: string;
  versions: Record<string, number>;
}

/** The model version a predict step predicts with, fixed when its run starts; null when the model had no production version then. */
export interface ResolvedPrediction {
  model: string;
  version: number | null;
}

/** What a run was started with, stored as the run's params: a rerun or resume needs nothing else. */
export interface RunParams {
  pipeline: TablePipelineConfig;
  dataset: DatasetConfig;
  detour_version: string;
  /** The run this one reruns, if any. */
  rerun_of?: string;
  /** Set on a training run, which trains models instead of detecting. */
  training?: TrainingRequest;
  /** Per detect step (by index) with `model:`, the versions it scores with; a rerun uses the same. */
  models?: Record<string, ResolvedModels>;
  /** With a predict step, the version it predicts with; a rerun uses the same. */
  prediction?: ResolvedPrediction;
  /** What started it when an event did: the landed file (see landed.ts); runs are found again by it. */
  trigger?: RunTrigger;
}

/** The event a run was started for. */
export interface RunTrigger {
  landed: LandedEvent;
}

/** Everything a step partition needs, on whichever process runs it. */
export interface StepContext {
  lake: Lake;
  store: Store;
  run: RunRecord;
  params: RunParams;
  /** The step's logger: what a step reports without failing (an alarm not delivered). */
  logger?: Logger;
}

/** One input file of a date, as fingerprinted by the clean step: what a rerun compares. */
export interface InputFile {
  key: string;
  size: number;
  sha256: string;
}

/** Output of the clean step for one date. */
export interface CleanedDate {
  rows_read: number;
  rows_valid: number;
  rows_quarantined: number;
  quarantine_reasons: Record<string, number>;
  /** Rows kept but flagged, per warning (e.g. dated on another day than their partition); absent when none. */
  row_warnings?: Record<string, number>;
  quarantine: string | null;
  silver: string;
  input: { files: InputFile[]; sha256: string };
}

/** Output of the quality step for one date. */
export interface CheckedDate {
  passed: boolean;
  failed_warnings: string[];
  report: string;
}

/** Output of the aggregate step for one date. */
export type AggregatedDate = { name: string; rows: number; key: string }[];

export type PerDate<T> = { dates: Record<string, T> };

const RunParamsSchema: z.ZodType<RunParams> = z.object({
  pipeline: TablePipelineSchema,
  dataset: DatasetSchema,
  detour_version: z.string(),
  rerun_of: z.string().optional(),
  training: z.object({ steps: z.array(z.number().int().min(0)), entities: z.array(z.string()).optional() }).optional(),
  models: z.record(z.string(), z.object({ model: z.string(), versions: z.record(z.string(), z.number().int().min(1)) })).optional(),
  prediction: z.object({ model: z.string(), version: z.number().int().min(1).nullable() }).optional(),
  trigger: z.object({ landed: z.object({ dataset: z.string(), date: z.string(), key: z.string(), sha256: z.string() }) }).optional(),
});

/** A run's recorded params, read back through the config's own schemas. */
export function paramsOf(run: RunRecord): RunParams {
  return RunParamsSchema.parse(run.params);
}
