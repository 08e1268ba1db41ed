import { InputError } from '../../errors.js';
import type { StepRecord } from '../../store/index.js';
import { StepPartitionSchema, type StepHandler, type StepKind, type StepPartition } from '../contract.js';
import type { AggregatedDate, CheckedDate, CleanedDate, PerDate } from '../context.js';
import { aggregateStep } from './aggregate.js';
import { cleanStep } from './clean.js';
import { detectStep, type DetectOutput, type DetectPartition } from './detect.js';
import { predictStep, type PredictedDate } from './predict.js';
import { qualityStep } from './quality.js';

/** Outputs of a run's succeeded steps, read back through each step's schema and merged over partitions. */
export interface UpstreamOutputs {
  clean: PerDate<CleanedDate>;
  quality: PerDate<CheckedDate>;
  aggregate: PerDate<AggregatedDate>;
  detect: { partition: DetectPartition; output: DetectOutput }[];
  predict: PerDate<PredictedDate>;
}

/** The output of a succeeded step record, decoded with its step's schema. */
export function outputOf<Output>(handler: Pick<StepHandler<StepPartition, Output>, 'output'>, record: StepRecord): Output {
  return handler.output.parse(record.output);
}

function succeeded(steps: readonly StepRecord[], kind: StepKind): StepRecord[] {
  return steps.filter((record) => record.step === kind && record.status === 'succeeded');
}

function mergedDates<T>(handler: Pick<StepHandler<StepPartition, PerDate<T>>, 'kind' | 'output'>, steps: readonly StepRecord[]): PerDate<T> {
  return { dates: Object.assign({}, ...succeeded(steps, handler.kind).map((record) => outputOf(handler, record).dates)) as Record<string, T> };
}

/** The merged outputs of a run's succeeded steps, as publish, resume and rerun read them. */
export function upstreamOf(steps: readonly StepRecord[]): UpstreamOutputs {
  return {
    clean: mergedDates(cleanStep, steps),
    quality: mergedDates(qualityStep, steps),
    aggregate: mergedDates(aggregateStep, steps),
    detect: succeeded(steps, 'detect').map((record) => ({ partition: partitionOf(detectStep, record), output: outputOf(detectStep, record) })),
    predict: mergedDates(predictStep, steps),
  };
}

/** The partition a step record stands for, decoded with its step's schema. */
export function partitionOf<Partition extends StepPartition>(handler: Pick<StepHandler<Partition>, 'partition'>, record: StepRecord): Partition {
  if (record.spec === null) throw new InputError(`run ${record.runId} was recorded by an older detour (step ${record.step} ${record.partition} has no partition data); rerun it instead of resuming`);
  return handler.partition.parse(StepPartitionSchema.parse(record.spec));
}
