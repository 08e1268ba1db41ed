import type { DetectStepConfig, TablePipelineConfig } from '../config/index.js';
import { dateRange } from '../lake/index.js';

/** The steps of every pipeline run, in graph order; each is split into partitions that may run in parallel. */
export const STEP_NAMES = ['clean', 'quality', 'aggregate', 'detect', 'publish'] as const;
export type StepName = (typeof STEP_NAMES)[number];

export interface PlannedStep {
  step: StepName;
  partition: string;
  position: number;
}

/** Consecutive runs of at most `size` dates: the unit of a clean, quality or aggregate job. */
export function chunkDates(dates: readonly string[], size: number): string[][] {
  const chunks: string[][] = [];
  for (let start = 0; start < dates.length; start += size) chunks.push(dates.slice(start, start + size));
  return chunks;
}

/** `2024-01-01` for one date, `2024-01-01..2024-01-31` for a chunk. */
export function chunkLabel(dates: readonly string[]): string {
  return dates.length === 1 ? dates[0] : `${dates[0]}..${dates[dates.length - 1]}`;
}

/** The dates a chunk label stands for. */
export function datesOfChunk(label: string): string[] {
  const [from, to = from] = label.split('..');
  return dateRange(from, to);
}

/** A detect partition: one shard of a series detector's entities, or one date of a record detector. */
export interface DetectPartition {
  stepIndex: number;
  detector: DetectStepConfig['detector'];
  shard?: { index: number; count: number };
  date?: string;
}

export function detectPartitionLabel(partition: DetectPartition): string {
  const base = `${partition.stepIndex}-${partition.detector}`;
  if (partition.date !== undefined) return `${base}-${partition.date}`;
  return partition.shard && partition.shard.count > 1 ? `${base}-shard${partition.shard.index + 1}of${partition.shard.count}` : base;
}

export function parseDetectPartition(label: string): DetectPartition {
  const match = /^(\d+)-(arima|iforest|dbscan)(?:-(\d{4}-\d{2}-\d{2})|-shard(\d+)of(\d+))?$/.exec(label);
  if (!match) throw new Error(`not a detect partition: ${label}`);
  const [, index, detector, date, shard, count] = match;
  return {
    stepIndex: Number(index),
    detector: detector as DetectStepConfig['detector'],
    date,
    shard: shard === undefined ? (date === undefined ? { index: 0, count: 1 } : undefined) : { index: Number(shard) - 1, count: Number(count) },
  };
}

export function detectPartitions(pipeline: TablePipelineConfig, dates: readonly string[]): DetectPartition[] {
  return pipeline.detect.flatMap((step, stepIndex): DetectPartition[] =>
    step.detector === 'dbscan'
      ? dates.map((date) => ({ stepIndex, detector: step.detector, date }))
      : step.detector === 'arima'
        ? Array.from({ length: step.partitions }, (_, index) => ({ stepIndex, detector: step.detector, shard: { index, count: step.partitions } }))
        : [{ stepIndex, detector: step.detector, shard: { index: 0, count: 1 } }],
  );
}

/** Every step partition of a run over `dates`, in graph order. */
export function planRun(pipeline: TablePipelineConfig, dates: readonly string[]): PlannedStep[] {
  const chunks = chunkDates(dates, pipeline.chunkDays).map(chunkLabel);
  const partitions: Record<StepName, string[]> = {
    clean: chunks,
    quality: chunks,
    aggregate: chunks,
    detect: detectPartitions(pipeline, dates).map(detectPartitionLabel),
    publish: ['all'],
  };
  return STEP_NAMES.flatMap((step, position) => partitions[step].map((partition) => ({ step, partition, position })));
}

/**
 * The shard (0..count-1) of an entity: FNV-1a over its UTF-16 code units, so that every process
 * puts an entity in the same shard whatever the order it meets entities in.
 */
export function shardOf(entity: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < entity.length; i++) {
    hash ^= entity.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}
