import type { TablePipelineConfig } from '../config/index.js';
import type { PlannedStep } from '../store/index.js';
import { partitionLabel, type StepHandler, type StepKind, type StepPartition } from './contract.js';
import { aggregateStep } from './steps/aggregate.js';
import { cleanStep } from './steps/clean.js';
import { detectStep } from './steps/detect.js';
import { monitorStep } from './steps/monitor.js';
import { predictStep } from './steps/predict.js';
import { publishStep } from './steps/publish.js';
import { qualityStep } from './steps/quality.js';
import { trainStep } from './steps/train.js';
import type { TrainingRequest } from './context.js';

/**
 * The step kinds of a run, in graph order: a step's partition starts once every partition of the
 * one before has succeeded, or, for a `chained` step, the one partition of the same span. A new kind of step is a handler file listed here (and its config in the schema).
 * A detection run is the first seven (monitor after publish: it counts the published anomalies); a training run trains alone (each shard registers its
 * entities' versions itself, so nothing waits for all of them).
 */
const DETECTION_HANDLERS = [cleanStep, qualityStep, aggregateStep, detectStep, predictStep, publishStep, monitorStep] as const;
const TRAINING_HANDLERS = [trainStep] as const;
const STEP_HANDLERS = [...DETECTION_HANDLERS, ...TRAINING_HANDLERS] as const;

/** A step kind's handler, with its partition and output types erased (they are checked by its schemas). */
export function handlerOf(kind: StepKind): StepHandler<StepPartition, unknown> {
  const handler = STEP_HANDLERS.find((candidate) => candidate.kind === kind);
  if (handler === undefined) throw new Error(`no handler for step kind ${kind}`);
  return handler as unknown as StepHandler<StepPartition, unknown>;
}

/** The step kinds in graph order. */
export const STEP_ORDER: readonly StepKind[] = STEP_HANDLERS.map((handler) => handler.kind);

/**
 * Every step partition of a run of `pipeline` over `dates` (a training run with `training`), in
 * graph order, labelled and with its partition as data.
 */
export function planRun(pipeline: TablePipelineConfig, dates: readonly string[], training?: TrainingRequest): PlannedStep[] {
  const handlers: readonly StepHandler<StepPartition, unknown>[] = training === undefined ? DETECTION_HANDLERS : TRAINING_HANDLERS;
  return handlers.flatMap((handler) => {
    const position = STEP_ORDER.indexOf(handler.kind);
    const status = handler.skipped?.(pipeline) ? 'skipped' : 'pending';
    return handler.plan(pipeline, dates, training).map((partition: StepPartition) => ({ step: handler.kind, partition: partitionLabel(partition), spec: partition, position, status }));
  });
}
