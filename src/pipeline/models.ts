/**
 * The model lifecycle over the registry (run store) and the lake: registering what a training step
 * fitted, deciding promotion, loading a version's artifact back (checked), promoting and rolling
 * back by hand, and fixing the versions a detection run scores with.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { trainStepFor, type TablePipelineConfig } from '../config/index.js';
import { isSupervised, supervisedModel, trainableDetector, type CalibrationBin, type FeatureContract, type ModelMetrics, type ReferenceDistribution, type SupervisedModel, type TrainableDetector } from '../detectors/index.js';
import { InputError, NotFoundError, oneLine } from '../errors.js';
import { modelArtifactKey, type Lake } from '../lake/index.js';
import type { ModelStage, ModelVersion, NewModelVersion, Store } from '../store/index.js';
import type { ResolvedModels, ResolvedPrediction } from './context.js';

/** The metric promotion compares; lower is better. */
export const PROMOTION_METRIC = 'validation_loss';

/** The registry name of an entity's model, `bus_iforest/B3`, or of a model of all rows (entity null): `fleet_service`. */
export function modelName(model: string, entity: string | null): string {
  return entity === null ? model : `${model}/${entity}`;
}

/** The training step's model a registry name belongs to: `bus_iforest` of `bus_iforest/B3`. */
function modelOfName(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? name : name.slice(0, slash);
}

/** `NAME` or `NAME@VERSION` as the CLI takes it. */
export function parseModelRef(ref: string): { name: string; version?: number } {
  const at = ref.lastIndexOf('@');
  if (at < 0) return { name: ref };
  const version = Number(ref.slice(at + 1));
  if (!Number.isSafeInteger(version) || version < 1) throw new InputError(`"${ref}": the version after @ must be a whole number >= 1`);
  return { name: ref.slice(0, at), version };
}

/** Whether a new version should replace production, and the line that says why. */
export interface PromotionDecision {
  promote: boolean;
  reason: string;
}

/**
 * `auto` promotes a new version when its validation_loss is not worse (not higher) than the
 * production version's, or when there is no production version; `manual` never does.
 */
export function promotionDecision(policy: 'auto' | 'manual', detector: string, metrics: ModelMetrics, production: Pick<ModelVersion, 'version' | 'detector' | 'metrics'> | null): PromotionDecision {
  if (policy === 'manual') return { promote: false, reason: 'candidate (promote: manual)' };
  const loss = metrics[PROMOTION_METRIC];
  if (!Number.isFinite(loss)) return { promote: false, reason: `not promoted: ${PROMOTION_METRIC} is ${loss}` };
  if (production === null) return { promote: true, reason: 'auto: no production version before' };
  if (production.detector !== detector) return { promote: false, reason: `not promoted: production v${production.version} was trained with ${production.detector}` };
  const current = production.metrics?.[PROMOTION_METRIC];
  if (current === undefined || !Number.isFinite(current)) return { promote: false, reason: `not promoted: production v${production.version} has no ${PROMOTION_METRIC} to compare with` };
  const compared = `${PROMOTION_METRIC} ${formatMetric(loss)} vs production v${production.version}'s ${formatMetric(current)}`;
  return loss <= current ? { promote: true, reason: `auto: ${compared}` } : { promote: false, reason: `not promoted: worse ${compared}` };
}

export function formatMetric(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

const CalibrationBinSchema: z.ZodType<CalibrationBin> = z.object({ from: z.number(), to: z.number(), rows: z.number(), mean_probability: z.number(), observed_rate: z.number() });

const ReferenceDistributionSchema: z.ZodType<ReferenceDistribution> = z.object({ rows: z.number(), edges: z.array(z.number()), proportions: z.array(z.number()), sample: z.array(z.number()) });

/** The training rows' distributions the monitor step measures drift against: each feature's and the model's score's. */
const DriftReferenceSchema = z.object({ features: z.record(z.string(), ReferenceDistributionSchema), score: ReferenceDistributionSchema });
export type DriftReference = z.infer<typeof DriftReferenceSchema>;

/** What a supervised model's file adds: its outcome, the feature ranges it accepts, how calibrated it was on validation and (since monitoring) its training distributions. */
const SupervisedFactsSchema = z.object({
  label: z.string(),
  ranges: z.record(z.string(), z.object({ min: z.number().optional(), max: z.number().optional() }).strict()),
  calibration: z.array(CalibrationBinSchema),
  reference: DriftReferenceSchema.optional(),
});
export type SupervisedFacts = z.infer<typeof SupervisedFactsSchema>;

/** The file an artifact is stored as: self-describing, so that it can be checked on load. */
const ArtifactFileSchema = z.object({
  format: z.literal('detour-model/1'),
  name: z.string(),
  version: z.number(),
  detector: z.string(),
  features: z.array(z.string()),
  artifact: z.unknown(),
  supervised: SupervisedFactsSchema.optional(),
});
type ArtifactFile = z.infer<typeof ArtifactFileSchema>;

/** A version as scoring uses it: its record, its detector and the model loaded from its artifact. */
export interface LoadedModel {
  record: ModelVersion;
  detector: TrainableDetector;
  model: unknown;
  features: string[];
  /** Size of the artifact, what the model cache bounds. */
  bytes: number;
}

/** A supervised model's version as predicting uses it (see predictProbabilities). */
export interface LoadedSupervisedModel {
  record: ModelVersion;
  /** The kind of model (logistic, gbdt) that predicts with `model`. */
  kind: SupervisedModel;
  model: unknown;
  /** The features it takes, in order, and their ranges. */
  contract: FeatureContract;
  /** Its outcome column and how calibrated its validation probabilities were. */
  facts: SupervisedFacts;
  bytes: number;
}

/** What a training step has fitted (for one entity, or of all rows), ready to register. */
export interface FittedModel extends Omit<NewModelVersion, 'name'> {
  model: string;
  features: string[];
  artifact: unknown;
  metrics: ModelMetrics;
  promote: 'auto' | 'manual';
  /** A supervised model's outcome, ranges and calibration, stored in its file. */
  supervised?: SupervisedFacts;
}

/**
 * Registers a fitted model: reserves its version (the same one again when this training run
 * already did, so a retried shard adds nothing), writes the artifact under a key named by its
 * content, then records artifact and metrics, promoting in the same transaction when the policy
 * says so and production is still what was compared with. Returns the version and why it stands
 * where it does.
 */
export async function registerFittedModel(store: Store, lake: Lake, fitted: FittedModel): Promise<{ version: ModelVersion; reason: string }> {
  const { model, features, artifact, metrics, promote, supervised, ...facts } = fitted;
  const name = modelName(model, fitted.entity);
  const reserved = await store.reserveModelVersion({ ...facts, name });
  if (reserved.registeredAt !== null) return { version: reserved, reason: await registrationNote(store, reserved) };
  const file: ArtifactFile = { format: 'detour-model/1', name, version: reserved.version, detector: fitted.detector, features, artifact, ...(supervised === undefined ? {} : { supervised }) };
  const bytes = Buffer.from(JSON.stringify(file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const key = modelArtifactKey(model, fitted.entity, reserved.version, sha256);
  await lake.put(key, bytes);
  const [production = null] = await store.listModels({ name, stage: 'production' }).then((versions) => versions.filter((version) => version.name === name));
  const decision = promotionDecision(promote, fitted.detector, metrics, production);
  const version = await store.registerModelVersion(name, reserved.version, {
    artifact: { key, sha256, bytes: bytes.length },
    metrics,
    note: decision.promote ? 'registered' : `registered as a candidate: ${decision.reason}`,
    promote: decision.promote ? { ifProduction: production?.version ?? null, reason: decision.reason } : undefined,
  });
  return { version, reason: decision.reason };
}

/** Why a version registered by an earlier attempt stands where it does: its history's latest line. */
export async function registrationNote(store: Store, version: ModelVersion): Promise<string> {
  const history = (await store.listModelStages(version.name)).filter((change) => change.version === version.version);
  return history.at(-1)?.reason ?? 'registered';
}

/**
 * A version's artifact file from the lake, checked: present, the same sha256 as registered, a
 * detour model file. Any problem is one InputError naming the model.
 */
async function readArtifactFile(lake: Lake, record: ModelVersion): Promise<{ file: ArtifactFile; bytes: number }> {
  const label = `model ${record.name} v${record.version}`;
  if (record.artifact === null) throw new InputError(`${label} has no artifact`);
  const { key, sha256 } = record.artifact;
  let bytes: Buffer;
  try {
    bytes = await lake.get(key);
  } catch (error) {
    if (error instanceof NotFoundError) throw new InputError(`${label}: its artifact ${key} is missing from ${lake.url}`, { cause: error });
    throw error;
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) throw new InputError(`${label}: its artifact ${key} is corrupt (sha256 ${actual.slice(0, 12)}…, registered ${sha256.slice(0, 12)}…)`);
  return { file: loadable(record, () => ArtifactFileSchema.parse(JSON.parse(bytes.toString()))), bytes: bytes.length };
}

/** `load()`, with any failure as one InputError naming the model and its artifact. */
function loadable<T>(record: ModelVersion, load: () => T): T {
  try {
    return load();
  } catch (error) {
    const reason = error instanceof z.ZodError ? 'not a detour model file' : oneLine(error);
    throw new InputError(`model ${record.name} v${record.version}: its artifact ${record.artifact?.key} cannot be loaded: ${reason}`, { cause: error });
  }
}

/**
 * A model asked for what its kind does not do: a supervised model (a probability per row) named
 * for anomaly scoring, or an anomaly model named for predicting. Bad input (HTTP 400), unlike an
 * artifact that does not load.
 */
export class ModelKindError extends InputError {
  override readonly name = 'ModelKindError';
}

/** Loads a per-entity model's version (see readArtifactFile for the checks). */
export async function loadModel(lake: Lake, record: ModelVersion): Promise<LoadedModel> {
  if (isSupervised(record.detector)) {
    throw new ModelKindError(`model ${record.name} is a supervised model (${record.detector}): it predicts probabilities, it does not score anomalies`);
  }
  const { file, bytes } = await readArtifactFile(lake, record);
  return loadable(record, () => {
    const detector = trainableDetector(record.detector);
    return { record, detector, model: detector.load(file.artifact), features: file.features, bytes };
  });
}

/** Loads a supervised model's version (see readArtifactFile for the checks). */
export async function loadSupervisedModel(lake: Lake, record: ModelVersion): Promise<LoadedSupervisedModel> {
  if (!isSupervised(record.detector)) {
    throw new ModelKindError(`model ${record.name} is an anomaly model (${record.detector}): it scores anomalies, it does not predict probabilities`);
  }
  const { file, bytes } = await readArtifactFile(lake, record);
  return loadable(record, () => {
    const kind = supervisedModel(record.detector);
    if (file.supervised === undefined) throw new InputError('no label, ranges nor calibration in it');
    return { record, kind, model: kind.load(file.artifact), contract: { features: file.features, ranges: file.supervised.ranges }, facts: file.supervised, bytes };
  });
}

/** A supervised model version's label, feature ranges and calibration, read from its artifact; undefined for a per-entity model. */
export async function supervisedFactsOf(lake: Lake, record: ModelVersion): Promise<SupervisedFacts | undefined> {
  return isSupervised(record.detector) ? (await loadSupervisedModel(lake, record)).facts : undefined;
}

/** The version `version` of a model, or its production version; InputError naming the versions there are. */
export async function findModelVersion(store: Store, name: string, version?: number): Promise<ModelVersion> {
  const versions = (await store.listModels({ name })).filter((record) => record.name === name);
  if (versions.length === 0) throw new InputError(`no model named ${name}${name.includes('/') ? '' : ` (models are named <model>/<entity>; \`detour models list --name ${name}\` lists them)`}`);
  const found = version === undefined ? (versions.find((record) => record.stage === 'production') ?? versions.at(-1)) : versions.find((record) => record.version === version);
  if (found === undefined) throw new InputError(`model ${name} has no version ${version} (versions: ${versions.map((record) => record.version).join(', ')})`);
  return found;
}

/** The detector a model's production serves with: its training step's, else its production version's. */
function servingDetector(pipelines: Record<string, TablePipelineConfig>, name: string, production: ModelVersion | undefined): string | undefined {
  const model = modelOfName(name);
  const step = Object.values(pipelines).flatMap((pipeline) => pipeline.train).find((train) => train.model === model);
  return step?.detector ?? production?.detector;
}

/** What promote and rollback return: the version now in production and the one it replaced. */
export interface PromotionResult {
  production: ModelVersion;
  replaced: number | null;
  unchanged: boolean;
}

/**
 * Makes `version` of `name` production by hand. Refused (InputError) for a version that does not
 * exist, a model of another detector than the one serving it, or an artifact that does not load:
 * production then stays as it was.
 */
export async function promoteModelVersion(store: Store, lake: Lake, pipelines: Record<string, TablePipelineConfig>, name: string, version: number, reason = 'promoted by hand'): Promise<PromotionResult> {
  const target = await findModelVersion(store, name, version);
  const versions = await store.listModels({ name });
  const production = versions.find((record) => record.name === name && record.stage === 'production');
  if (production?.version === version) return { production, replaced: null, unchanged: true };
  const detector = servingDetector(pipelines, name, production);
  if (detector !== undefined && target.detector !== detector) throw new InputError(`model ${name} v${version} was trained with ${target.detector}; ${name} serves ${detector} models`);
  await checkLoads(lake, target, production);
  return { production: await store.promoteModel(name, version, { reason }), replaced: production?.version ?? null, unchanged: false };
}

/** Puts back the version production replaced (then the one before that, on another rollback). */
export async function rollbackModel(store: Store, lake: Lake, name: string): Promise<PromotionResult> {
  const versions = (await store.listModels({ name })).filter((record) => record.name === name);
  if (versions.length === 0) throw new InputError(`no model named ${name}`);
  const production = versions.find((record) => record.stage === 'production');
  if (production === undefined) throw new InputError(`model ${name} has no production version to roll back`);
  const previous = versions.find((record) => record.version === production.previousProduction);
  if (previous === undefined) throw new InputError(`model ${name} v${production.version} replaced no earlier production version: nothing to roll back to`);
  await checkLoads(lake, previous, production);
  return { production: await store.promoteModel(name, previous.version, { reason: `rollback from v${production.version}`, restore: true }), replaced: production.version, unchanged: false };
}

async function checkLoads(lake: Lake, target: ModelVersion, production: ModelVersion | undefined): Promise<void> {
  try {
    await (isSupervised(target.detector) ? loadSupervisedModel(lake, target) : loadModel(lake, target));
  } catch (error) {
    throw new InputError(`${oneLine(error)}; ${production ? `production stays v${production.version}` : 'nothing promoted'}`, { cause: error });
  }
}

/**
 * The versions each detect step with `model:` scores with, fixed when a run starts: per entity
 * with a version at that stage (or of that number). Entities without one are skipped by the step.
 */
export async function resolveModelVersions(store: Store, pipeline: TablePipelineConfig): Promise<Record<string, ResolvedModels> | undefined> {
  const resolved: Record<string, ResolvedModels> = {};
  for (const [index, step] of pipeline.detect.entries()) {
    if (!('model' in step) || step.model === undefined) continue;
    const trainer = trainStepFor(pipeline, step);
    if (trainer === undefined) throw new InputError(`detect step ${index} scores with a model no training step of the pipeline trains`);
    const wanted = step.model;
    const stage: ModelStage | undefined = wanted === 'production' ? 'production' : undefined;
    const versions = (await store.listModels({ name: trainer.model, stage })).filter((record) => wanted === 'production' || record.version === wanted);
    resolved[index] = { model: trainer.model, versions: Object.fromEntries(versions.flatMap((record) => (record.entity === null ? [] : [[record.entity, record.version]]))) };
  }
  return Object.keys(resolved).length === 0 ? undefined : resolved;
}

/**
 * The version a pipeline's predict step predicts with, fixed when a run starts: the model's
 * production version (null when it has none: the step then predicts nothing, saying why) or the
 * pinned one.
 */
export async function resolvePredictionModel(store: Store, pipeline: TablePipelineConfig): Promise<ResolvedPrediction | undefined> {
  if (pipeline.predict === undefined) return undefined;
  const { model, version } = pipeline.predict;
  if (version !== 'production') return { model, version };
  const [production] = (await store.listModels({ name: model, stage: 'production' })).filter((record) => record.name === model);
  return { model, version: production?.version ?? null };
}

/**
 * Copies every production model version of one environment into another (`detour env create
 * --copy-models`): the artifact under the same key in the target lake, registered there as a
 * new version (the next number of its name) and made production, its stage history saying where
 * it came from. Names that already have a production version in the target are left alone.
 * Returns the versions registered.
 */
export async function copyProductionModels(from: { store: Store; lake: Lake; env: string }, to: { store: Store; lake: Lake }): Promise<ModelVersion[]> {
  const copied: ModelVersion[] = [];
  const present = new Set((await to.store.listModels({ stage: 'production' })).map((version) => version.name));
  for (const source of await from.store.listModels({ stage: 'production' })) {
    if (present.has(source.name) || source.artifact === null || source.metrics === null) continue;
    const { name, detector, entity, params, window, inputs, detourVersion, trainingRunId } = source;
    const reserved = await to.store.reserveModelVersion({ name, detector, entity, params, window, inputs, detourVersion, trainingRunId });
    await to.lake.put(source.artifact.key, await from.lake.get(source.artifact.key));
    const reason = `copied from ${from.env} v${source.version}`;
    copied.push(await to.store.registerModelVersion(name, reserved.version, { artifact: source.artifact, metrics: source.metrics, note: reason, promote: { ifProduction: null, reason } }));
  }
  return copied;
}
