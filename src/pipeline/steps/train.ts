import { z } from 'zod';
import type { TrainStepConfig } from '../../config/index.js';
import { holdOut, trainableDetector, type TrainableDetector } from '../../detectors/index.js';
import { addDays } from '../../dates.js';
import { openEngine } from '../../engine/index.js';
import { InputError } from '../../errors.js';
import type { ModelStage, ModelVersion } from '../../store/index.js';
import { DETOUR_VERSION } from '../../version.js';
import { partitionLabel, TrainShardSchema, type StepHandler, type TrainShard } from '../contract.js';
import type { StepContext } from '../context.js';
import { featureRowsOf, inShard, readEntityRows, rowsByEntity } from '../entity-rows.js';
import { registerFittedModel, registrationNote } from '../models.js';

/** One entity's new version, as a training shard reports it. */
export interface TrainedModel {
  entity: string;
  name: string;
  version: number;
  stage: ModelStage;
  metrics: Record<string, number>;
  /** Why it stands at that stage: promoted, or why not. */
  reason: string;
}

/** Output of one training shard: the versions it registered and the entities it could not train. */
export interface TrainOutput {
  model: string;
  window: { from: string; to: string };
  trained: TrainedModel[];
  skipped: { entity: string; reason: string }[];
}

export const TrainOutputSchema: z.ZodType<TrainOutput> = z.object({
  model: z.string(),
  window: z.object({ from: z.string(), to: z.string() }),
  trained: z.array(
    z.object({
      entity: z.string(),
      name: z.string(),
      version: z.number(),
      stage: z.enum(['candidate', 'production', 'archived']),
      metrics: z.record(z.string(), z.number()),
      reason: z.string(),
    }),
  ),
  skipped: z.array(z.object({ entity: z.string(), reason: z.string() })),
});

/** A training step's detector and its params, checked; InputError naming the step's field otherwise. */
export function trainingDetectorOf(pipelineName: string, index: number, step: TrainStepConfig): { detector: TrainableDetector; params: unknown } {
  const where = `pipelines.${pipelineName}.train.${index}`;
  let detector: TrainableDetector;
  try {
    detector = trainableDetector(step.detector);
  } catch (error) {
    throw new InputError(`${where}.detector: ${(error as Error).message}`, { cause: error });
  }
  const params = detector.params.safeParse(step.params);
  if (!params.success) {
    const [issue] = params.error.issues;
    throw new InputError(`${where}.params${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue.message}`, { cause: params.error });
  }
  return { detector, params: params.data };
}

/** The days a training run of `date` learns from: `history` days ending at it. */
export function trainingWindow(step: TrainStepConfig, date: string): { from: string; to: string } {
  return { from: addDays(date, -(step.history - 1)), to: date };
}

/**
 * Train: one shard of one training step. Reads the window's rows of the shard's entities, and per
 * entity fits on the older rows, validates on the most recent ones and registers the model (see
 * registerFittedModel). Entities this training run registered already (an earlier attempt of the
 * shard, killed or failed after them) are not fitted again; so a shard run twice, even at once on
 * two workers, leaves one version per entity.
 */
async function trainShard(context: StepContext, partition: TrainShard): Promise<TrainOutput> {
  const { run, params } = context;
  const step = params.pipeline.train[partition.trainStep];
  if (step === undefined || step.model !== partition.model) throw new InputError(`run ${run.id} has no training partition ${partitionLabel(partition)}`);
  const { detector, params: detectorParams } = trainingDetectorOf(run.pipeline, partition.trainStep, step);
  const window = trainingWindow(step, run.endDate);
  const wanted = params.training?.entities === undefined ? undefined : new Set(params.training.entities);
  const mine = inShard(partition);
  const features = step.features ?? [step.value as string];
  const engine = await openEngine();
  let read: Awaited<ReturnType<typeof readEntityRows>>;
  try {
    const include = (entity: string) => mine(entity) && (wanted === undefined || wanted.has(entity));
    read = await readEntityRows(engine, context, { ...step, columns: features }, window, { include, what: `training step ${step.model}`, fingerprint: true });
  } finally {
    await engine.close();
  }
  const { table, inputs } = read;
  const registered = new Map((await context.store.listModels({ name: step.model, trainingRunId: run.id })).map((version) => [version.entity, version]));
  const output: TrainOutput = { model: step.model, window, trained: [], skipped: [] };
  const entities = rowsByEntity(table);
  const report = (entity: string, version: ModelVersion, reason: string) =>
    output.trained.push({ entity, name: version.name, version: version.version, stage: version.stage, metrics: version.metrics ?? {}, reason });
  for (const [entity, rows] of entities) {
    const earlier = registered.get(entity);
    if (earlier !== undefined) {
      report(entity, earlier, await registrationNote(context.store, earlier));
      continue;
    }
    if (rows.length < step.minRows) {
      output.skipped.push({ entity, reason: `${rows.length} rows in ${window.from}..${window.to}, fewer than minRows ${step.minRows}` });
      continue;
    }
    const { training, validation } = holdOut(featureRowsOf(table, rows, features), step.validation);
    const fitted = detector.fit(training, validation, detectorParams);
    if ('skipped' in fitted) {
      output.skipped.push({ entity, reason: `${step.detector}: ${fitted.skipped}` });
      continue;
    }
    const { version, reason } = await registerFittedModel(context.store, context.lake, {
      model: step.model,
      entity,
      detector: step.detector,
      features,
      params: { ...(detectorParams as Record<string, unknown>), history: step.history, validation: step.validation, minRows: step.minRows },
      window,
      inputs,
      detourVersion: DETOUR_VERSION,
      trainingRunId: run.id,
      artifact: fitted.artifact,
      metrics: fitted.metrics,
      promote: step.promote,
    });
    report(entity, version, reason);
  }
  for (const entity of [...(wanted ?? [])].sort()) {
    if (mine(entity) && !entities.has(entity)) output.skipped.push({ entity, reason: `no rows in ${window.from}..${window.to}` });
  }
  return output;
}

/** Train: in a training run, each requested training step in `partitions` entity shards. */
export const trainStep: StepHandler<TrainShard, TrainOutput> = {
  kind: 'train',
  partition: TrainShardSchema,
  output: TrainOutputSchema,
  plan: (pipeline, _dates, training) =>
    (training?.steps ?? []).flatMap((trainStep) => {
      const step = pipeline.train[trainStep];
      if (step === undefined) throw new InputError(`the pipeline has no training step ${trainStep}`);
      return Array.from({ length: step.partitions }, (_, shard): TrainShard => ({ kind: 'train-shard', trainStep, model: step.model, shard, shards: step.partitions }));
    }),
  run: trainShard,
};
