import { z } from 'zod';
import { DatasetSchema, TablePipelineSchema, type DatasetConfig, type TablePipelineConfig } from '../config/index.js';
import type { Lake } from '../lake/index.js';
import type { RunRecord, Store } from '../store/index.js';

/** What a run was started with, stored as the run's params: a rerun or resume needs nothing else. */
export interface RunParams {
  pipeline: TablePipelineConfig;
  dataset: DatasetConfig;
  detour_version: string;
  /** The run this one reruns, if any. */
  rerun_of?: string;
}

/** Everything a step partition needs, on whichever process runs it. */
export interface StepContext {
  lake: Lake;
  store: Store;
  run: RunRecord;
  params: RunParams;
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
});

/** A run's recorded params, read back through the config's own schemas. */
export function paramsOf(run: RunRecord): RunParams {
  return RunParamsSchema.parse(run.params);
}
