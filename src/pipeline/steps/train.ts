import { z } from 'zod';
import type { TrainStepConfig } from '../../config/index.js';
import { fitSupervised, holdOut, holdOutLabelled, isSupervised, referenceDistribution, supervisedModel, trainableDetector, SUPERVISED_MODELS, TRAINABLE_DETECTORS, type CalibrationBin, type LabelledRows, type SupervisedModel, type TrainableDetector } from '../../detectors/index.js';
import { addDays } from '../../dates.js';
import { openEngine } from '../../engine/index.js';
import { InputError } from '../../errors.js';
import type { ModelStage, ModelVersion } from '../../store/index.js';
import { DETOUR_VERSION } from '../../version.js';
import { partitionLabel, TrainShardSchema, type StepHandler, type TrainShard } from '../contract.js';
import type { StepContext } from '../context.js';
import { featureRowsOf, readEntityRows, rowsByEntity } from '../entity-rows.js';
import { readLabelledRows, type ExcludedRows } from '../labelled-rows.js';
import { registerFittedModel, registrationNote, type DriftReference } from '../models.js';

/** One new version (an entity's, or a supervised model's: entity null), as a training shard reports it. */
export interface TrainedModel {
  entity: string | null;
  name: string;
  version: number;
  stage: ModelStage;
  metrics: Record<string, number>;
  /** Why it stands at that stage: promoted, or why not. */
  reason: string;
  /** A supervised model's validation rows by predicted probability, against how often the outcome happened. */
  calibration?: CalibrationBin[];
}

/** Output of one training shard: the versions it registered, the entities it could not train and (supervised) the rows it left out. */
export interface TrainOutput {
  model: string;
  window: { from: string; to: string };
  trained: TrainedModel[];
  skipped: { entity: string | null; reason: string }[];
  excluded?: ExcludedRows[];
}

export const TrainOutputSchema: z.ZodType<TrainOutput> = z.object({
  model: z.string(),
  window: z.object({ from: z.string(), to: z.string() }),
  trained: z.array(
    z.object({
      entity: z.string().nullable(),
      name: z.string(),
      version: z.number(),
      stage: z.enum(['candidate', 'production', 'archived']),
      metrics: z.record(z.string(), z.number()),
      reason: z.string(),
      calibration: z.array(z.object({ from: z.number(), to: z.number(), rows: z.number(), mean_probability: z.number(), observed_rate: z.number() })).optional(),
    }),
  ),
  skipped: z.array(z.object({ entity: z.string().nullable(), reason: z.string() })),
  excluded: z.array(z.object({ reason: z.string(), rows: z.number() })).optional(),
});

/** What a training step fits: a model per entity, or one supervised model of all rows; with its params, checked. */
export type TrainingDetector = { kind: 'per-entity'; detector: TrainableDetector; params: unknown; entity: string } | { kind: 'supervised'; model: SupervisedModel; params: unknown; label: string };

/** A training step's detector and its params, checked; InputError naming the step's field otherwise. */
export function trainingDetectorOf(pipelineName: string, index: number, step: TrainStepConfig): TrainingDetector {
  const where = `pipelines.${pipelineName}.train.${index}`;
  const supervised = isSupervised(step.detector);
  if (!supervised && !TRAINABLE_DETECTORS.includes(step.detector)) {
    throw new InputError(`${where}.detector: "${step.detector}" is not a trainable detector (per entity: ${TRAINABLE_DETECTORS.join(', ')}; supervised, with a label: ${SUPERVISED_MODELS.join(', ')})`);
  }
  const checked = (schema: z.ZodType<unknown>) => {
    const params = schema.safeParse(step.params);
    if (params.success) return params.data;
    const [issue] = params.error.issues;
    throw new InputError(`${where}.params${issue.path.length > 0 ? `.${issue.path.join('.')}` : ''}: ${issue.message}`, { cause: params.error });
  };
  if (supervised) {
    if (step.label === undefined) throw new InputError(`${where}.label: ${step.detector} is a supervised model: give the label column (0 or 1) instead of entity`);
    const model = supervisedModel(step.detector);
    return { kind: 'supervised', model, params: checked(model.params), label: step.label };
  }
  if (step.entity === undefined) throw new InputError(`${where}.entity: ${step.detector} fits a model per entity without outcomes: give entity instead of label`);
  const detector = trainableDetector(step.detector);
  return { kind: 'per-entity', detector, params: checked(detector.params), entity: step.entity };
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
async function trainPerEntity(context: StepContext, partition: TrainShard, step: TrainStepConfig & { entity: string }, detector: TrainableDetector, detectorParams: unknown): Promise<TrainOutput> {
  const { run, params } = context;
  const window = trainingWindow(step, run.endDate);
  const wanted = params.training?.entities === undefined ? undefined : new Set(params.training.entities);
  const features = step.features ?? [step.value as string];
  const engine = await openEngine();
  let read: Awaited<ReturnType<typeof readEntityRows>>;
  try {
    const include = (entity: string) => wanted === undefined || wanted.has(entity);
    read = await readEntityRows(engine, context, { ...step, columns: features }, window, { include, shard: partition, what: `training step ${step.model}`, fingerprint: true });
  } finally {
    await engine.close();
  }
  const { table, entitiesWithRows, inputs } = read;
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
  // Entities asked for but without rows are in no shard's deal: the first shard reports them.
  for (const entity of [...(wanted ?? [])].sort()) {
    if (partition.shard === 0 && !entitiesWithRows.has(entity)) output.skipped.push({ entity, reason: `no rows in ${window.from}..${window.to}` });
  }
  return output;
}

/**
 * Train a supervised model: reads the window's rows (those with a label other than 0 or 1, or a
 * feature missing or out of range, left out and counted with why), fits on the older rows,
 * measures on the most recent ones (log loss, ROC AUC, Brier score, calibration) and registers one
 * version of `<model>`. A shard run again after registering reports that version, fits nothing.
 */
async function trainSupervised(context: StepContext, step: TrainStepConfig & { label: string }, model: SupervisedModel, modelParams: unknown): Promise<TrainOutput> {
  const { run } = context;
  const window = trainingWindow(step, run.endDate);
  const features = step.features ?? [];
  const engine = await openEngine();
  let read: Awaited<ReturnType<typeof readLabelledRows>>;
  try {
    read = await readLabelledRows(engine, context, { ...step, features }, window);
  } finally {
    await engine.close();
  }
  const output: TrainOutput = { model: step.model, window, trained: [], skipped: [], excluded: read.excluded };
  const report = (version: ModelVersion, reason: string, calibration?: CalibrationBin[]) =>
    output.trained.push({ entity: null, name: version.name, version: version.version, stage: version.stage, metrics: version.metrics ?? {}, reason, ...(calibration === undefined ? {} : { calibration }) });
  const [earlier] = (await context.store.listModels({ name: step.model, trainingRunId: run.id })).filter((version) => version.name === step.model);
  if (earlier !== undefined) {
    report(earlier, await registrationNote(context.store, earlier));
    return output;
  }
  const rows = read.rows.labels.length;
  if (rows < step.minRows) {
    output.skipped.push({ entity: null, reason: `${rows} usable rows in ${window.from}..${window.to}, fewer than minRows ${step.minRows}` });
    return output;
  }
  const { training, validation } = holdOutLabelled(read.rows, step.validation);
  const fitted = fitSupervised(model, training, validation, modelParams);
  if ('skipped' in fitted) {
    output.skipped.push({ entity: null, reason: `${step.detector}: ${fitted.skipped}` });
    return output;
  }
  const { version, reason } = await registerFittedModel(context.store, context.lake, {
    model: step.model,
    entity: null,
    detector: step.detector,
    features,
    params: { ...(modelParams as Record<string, unknown>), label: step.label, history: step.history, validation: step.validation, minRows: step.minRows },
    window,
    inputs: read.inputs,
    detourVersion: DETOUR_VERSION,
    trainingRunId: run.id,
    artifact: fitted.artifact,
    metrics: fitted.metrics,
    promote: step.promote,
    supervised: { label: step.label, ranges: step.ranges, calibration: fitted.calibration, reference: driftReference(model, fitted.artifact, training) },
  });
  report(version, reason, fitted.calibration);
  return output;
}

/** The training rows' distributions of each feature and of the model's score on them: what drift is measured against. */
function driftReference(model: SupervisedModel, artifact: unknown, training: LabelledRows): DriftReference {
  const scores = model.predictProbability(model.load(JSON.parse(JSON.stringify(artifact))), training.columns);
  return { features: Object.fromEntries(training.features.map((feature, k) => [feature, referenceDistribution(training.columns[k])])), score: referenceDistribution(scores) };
}

/** Train: one shard of one training step, per entity or (supervised) all rows at once. */
async function trainShard(context: StepContext, partition: TrainShard): Promise<TrainOutput> {
  const { run, params } = context;
  const step = params.pipeline.train[partition.trainStep];
  if (step === undefined || step.model !== partition.model) throw new InputError(`run ${run.id} has no training partition ${partitionLabel(partition)}`);
  const trainer = trainingDetectorOf(run.pipeline, partition.trainStep, step);
  if (trainer.kind === 'supervised') return trainSupervised(context, { ...step, label: trainer.label }, trainer.model, trainer.params);
  return trainPerEntity(context, partition, { ...step, entity: trainer.entity }, trainer.detector, trainer.params);
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
