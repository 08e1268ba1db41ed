/** The model registry: versions with their metrics and stages, and promotion by hand. */
import { z } from 'zod';
import { InputError, NotFoundError } from '../../errors.js';
import { promoteModelVersion, rollbackModel, supervisedFactsOf, type PromotionResult } from '../../pipeline/index.js';
import type { ModelVersion } from '../../store/index.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { errorResponses, ModelNameSchema } from '../schemas.js';

const StageSchema = z.enum(['candidate', 'production', 'archived']);

const ModelVersionSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  detector: z.string(),
  entity: z.string().nullable().describe("the entity whose rows it learnt from; null for a supervised model of all rows"),
  stage: StageSchema,
  metrics: z.record(z.string(), z.number()).nullable(),
  params: z.record(z.string(), z.unknown()),
  window: z.object({ from: z.string(), to: z.string() }).describe('the training window'),
  trainingRunId: z.string(),
  detourVersion: z.string(),
  createdAt: z.string(),
  registeredAt: z.string().nullable(),
  promotedAt: z.string().nullable(),
});

const ModelSchema = z.object({
  name: z.string(),
  production: z.number().int().nullable().describe('the version scoring now, if any'),
  versions: z.array(ModelVersionSchema),
  stages: z.array(z.object({ name: z.string(), version: z.number().int(), stage: StageSchema, reason: z.string(), changedAt: z.string() })).describe('stage changes, oldest first (of <model>/<entity> names only)'),
});

const PromotedSchema = z.object({ name: z.string(), production: z.number().int(), replaced: z.number().int().nullable(), unchanged: z.boolean() });

const CalibrationSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  label: z.string().describe('the outcome column the model predicts'),
  calibration: z
    .array(z.object({ from: z.number(), to: z.number(), rows: z.number(), mean_probability: z.number(), observed_rate: z.number() }))
    .describe('validation rows by predicted probability: the mean probability of each bin against the share of its rows whose outcome was 1'),
});

const ModelPathSchema = z.object({ model: z.string(), entity: z.string().optional() });
const VersionPathSchema = z.object({ model: z.string(), entity: z.string().optional(), version: z.coerce.number().int().min(1) });

/** The model a path names: `/v1/models/bus_iforest/B3` and `/v1/models/bus_iforest%2FB3` name the same one. */
function modelNameOf(params: { model: string; entity?: string }): string {
  const name = params.entity === undefined ? params.model : `${params.model}/${params.entity}`;
  const checked = ModelNameSchema.safeParse(name);
  if (!checked.success) throw new InputError(`model ${JSON.stringify(name.slice(0, 60))}: ${checked.error.issues[0].message}`);
  return checked.data;
}

function versionOf(record: ModelVersion): z.infer<typeof ModelVersionSchema> {
  return {
    name: record.name,
    version: record.version,
    detector: record.detector,
    entity: record.entity,
    stage: record.stage,
    metrics: record.metrics,
    params: record.params,
    window: record.window,
    trainingRunId: record.trainingRunId,
    detourVersion: record.detourVersion,
    createdAt: record.createdAt.toISOString(),
    registeredAt: record.registeredAt?.toISOString() ?? null,
    promotedAt: record.promotedAt?.toISOString() ?? null,
  };
}

export function modelsRoutes(api: Api, { app }: ApiContext): void {
  api.get(
    '/v1/models',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['models'],
        summary: 'registered model versions, by name then version',
        security: BEARER,
        querystring: z.object({ name: ModelNameSchema.optional().describe('a model (bus_iforest) or one entity’s (bus_iforest/B3)'), stage: StageSchema.optional() }),
        response: { 200: z.object({ models: z.array(ModelVersionSchema) }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => ({ models: (await app.store.listModels({ name: request.query.name, stage: request.query.stage })).map(versionOf) }),
  );

  for (const path of ['/v1/models/:model', '/v1/models/:model/:entity']) {
    api.get(
      path,
      {
        config: { scope: 'read' },
        schema: {
          tags: ['models'],
          summary: 'a model: every version with metrics, params and training window, and its stage history',
          security: BEARER,
          params: ModelPathSchema,
          response: { 200: ModelSchema, ...errorResponses(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const name = modelNameOf(request.params);
        const versions = await app.store.listModels({ name });
        if (versions.length === 0) throw new NotFoundError(`no model named ${name}`);
        const exact = versions.every((version) => version.name === name);
        return {
          name,
          production: exact ? (versions.find((version) => version.stage === 'production')?.version ?? null) : null,
          versions: versions.map(versionOf),
          stages: exact ? (await app.store.listModelStages(name)).map((change) => ({ ...change, changedAt: change.changedAt.toISOString() })) : [],
        };
      },
    );
  }

  for (const path of ['/v1/models/:model/versions/:version/promote', '/v1/models/:model/:entity/versions/:version/promote']) {
    api.post(
      path,
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['models'],
          summary: 'make a version production (its artifact is checked first; production stays if it does not load)',
          security: BEARER,
          params: VersionPathSchema,
          response: { 200: PromotedSchema, ...errorResponses(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const name = modelNameOf(request.params);
        const { version } = request.params;
        if ((await app.store.listModels({ name })).every((record) => record.name !== name)) throw new NotFoundError(`no model named ${name}`);
        return promoted(name, await promoteModelVersion(app.store, app.lake, app.config.pipelines, name, version, 'promoted through the API'));
      },
    );
  }

  api.get(
    '/v1/models/:model/versions/:version/calibration',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['models'],
        summary: "a supervised model version's calibration on its validation rows (from its artifact)",
        security: BEARER,
        params: z.object({ model: z.string(), version: z.coerce.number().int().min(1) }),
        response: { 200: CalibrationSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const name = modelNameOf(request.params);
      const record = await app.store.getModelVersion(name, request.params.version);
      const facts = await supervisedFactsOf(app.lake, record);
      if (facts === undefined) throw new NotFoundError(`${name} v${record.version} is a ${record.detector} model of one entity: only supervised models have a calibration`);
      return { name, version: record.version, label: facts.label, calibration: facts.calibration };
    },
  );

  for (const path of ['/v1/models/:model/rollback', '/v1/models/:model/:entity/rollback']) {
    api.post(
      path,
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['models'],
          summary: 'make the version production replaced production again (its artifact is checked first)',
          security: BEARER,
          params: ModelPathSchema,
          response: { 200: PromotedSchema, ...errorResponses(400, 401, 403, 404, 429) },
        },
      },
      async (request) => {
        const name = modelNameOf(request.params);
        return promoted(name, await rollbackModel(app.store, app.lake, name));
      },
    );
  }

  async function promoted(name: string, result: PromotionResult): Promise<z.infer<typeof PromotedSchema>> {
    // This process scores with the new version at once; the others within the cache's time to live.
    await app.models.refresh(name);
    return { name, production: result.production.version, replaced: result.replaced, unchanged: result.unchanged };
  }
}
