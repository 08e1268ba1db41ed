/**
 * Training runs: `detour train PIPELINE` and training schedules. A training run is a run like any
 * other (recorded, resumable, on any worker) whose graph is the `train` step alone: one partition
 * per entity shard of each training step, each registering its entities' new versions.
 */
import { z } from 'zod';
import type { DetourConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { trainingSummaryKey, type Lake } from '../lake/index.js';
import type { RunRecord } from '../store/index.js';
import type { RunParams } from './context.js';
import type { RunResult, RunServices } from './executor.js';
import { runParamsOf, startRun } from './runs.js';
import { trainingDetectorOf, TrainOutputSchema, trainStep, type TrainOutput } from './steps/train.js';
import { outputOf } from './steps/upstream.js';

export interface TrainingOptions {
  /** Training steps by their `model`; default all of the pipeline's. */
  models?: string[];
  /** Only these entities; default every entity with rows in the window. */
  entities?: string[];
}

/**
 * The params of a training run of `pipelineName`: its config as now, with the training steps to
 * run. Checks each step's detector and params (InputError naming the field).
 */
export function trainingParamsOf(config: DetourConfig, pipelineName: string, options: TrainingOptions = {}): RunParams {
  const params = runParamsOf(config, pipelineName);
  const { train } = params.pipeline;
  if (train.length === 0) throw new InputError(`pipeline "${pipelineName}" has no training steps (add \`train:\` to it in detour.yaml)`);
  const steps = options.models === undefined ? train.map((_, index) => index) : options.models.map((model) => {
    const index = train.findIndex((step) => step.model === model);
    if (index < 0) throw new InputError(`pipeline "${pipelineName}" trains no model "${model}" (models: ${train.map((step) => step.model).join(', ')})`);
    return index;
  });
  for (const index of steps) trainingDetectorOf(pipelineName, index, train[index]);
  const entities = options.entities === undefined || options.entities.length === 0 ? undefined : [...new Set(options.entities)].sort();
  return { ...params, training: { steps, ...(entities === undefined ? {} : { entities }) } };
}

/** What a training run trained and skipped, per training step; kept as `runs/<pipeline>/<run>/train/summary.json`. */
export interface TrainingSummary {
  pipeline: string;
  run_id: string;
  date: string;
  models: TrainOutput[];
}

const TrainingSummarySchema: z.ZodType<TrainingSummary> = z.object({ pipeline: z.string(), run_id: z.string(), date: z.string(), models: z.array(TrainOutputSchema) });

export interface TrainingResult extends RunResult {
  summary: TrainingSummary;
  /** Where the summary is in the lake. */
  summaryKey: string;
}

/** The merged outputs of a training run's shards, entities sorted. */
function summaryOf(result: RunResult): TrainingSummary {
  const byModel = new Map<string, TrainOutput>();
  for (const record of result.steps.filter((step) => step.step === 'train' && step.status === 'succeeded')) {
    const output = outputOf(trainStep, record);
    const merged = byModel.get(output.model);
    if (merged === undefined) byModel.set(output.model, { ...output, trained: [...output.trained], skipped: [...output.skipped] });
    else {
      merged.trained.push(...output.trained);
      merged.skipped.push(...output.skipped);
    }
  }
  const byEntity = <T extends { entity: string | null }>(a: T, b: T) => ((a.entity ?? '') < (b.entity ?? '') ? -1 : (a.entity ?? '') > (b.entity ?? '') ? 1 : 0);
  const models = [...byModel.values()].map((output) => ({ ...output, trained: output.trained.sort(byEntity), skipped: output.skipped.sort(byEntity) }));
  return { pipeline: result.run.pipeline, run_id: result.run.id, date: result.run.endDate, models };
}

/**
 * Starts a training run of `date` (the last day of every training window) and waits for it; then
 * writes its summary to the lake. Entities too short of history are in the summary, not errors.
 */
export async function startTrainingRun(services: RunServices, pipelineName: string, params: RunParams, date: string): Promise<TrainingResult> {
  if (params.training === undefined) throw new InputError('a training run needs training params (see trainingParamsOf)');
  return recordTrainingSummary(services.lake, await startRun(services, pipelineName, params, [date]));
}

/** Writes a finished training run's summary (also after `detour runs resume`) and returns it with the run. */
export async function recordTrainingSummary(lake: Lake, result: RunResult): Promise<TrainingResult> {
  const summary = summaryOf(result);
  const summaryKey = trainingSummaryKey(result.run.pipeline, result.run.id);
  await lake.put(summaryKey, `${JSON.stringify(summary, null, 2)}\n`);
  return { ...result, summary, summaryKey };
}

/** A training run's summary as written to the lake. */
export async function readTrainingSummary(lake: Lake, run: RunRecord): Promise<TrainingSummary> {
  return TrainingSummarySchema.parse(JSON.parse((await lake.get(trainingSummaryKey(run.pipeline, run.id))).toString()));
}
