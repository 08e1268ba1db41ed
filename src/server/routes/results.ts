/** What runs published: anomalies from a pipeline's results table, a page at a time, and data-quality results of a dataset. */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { pipelineTables } from '../../pipeline/index.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { dateWindow, decodeCursor, encodeCursor, errorResponses, IsoDateSchema, NameSchema, writtenAsBuilt } from '../schemas.js';

const AnomaliesQuerySchema = z.object({
  pipeline: NameSchema.describe("the pipeline whose results table is read"),
  from: IsoDateSchema.optional(),
  to: IsoDateSchema.optional(),
  entity: NameSchema.optional(),
  minScore: z.coerce.number().min(0).max(1).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  cursor: z.string().optional().describe('nextCursor of the previous page'),
});

const StoredAnomalySchema = z.object({
  date: z.string(),
  id: z.string(),
  detector: z.string(),
  entity: z.string(),
  value: z.number().nullable(),
  expected: z.number().nullable(),
  lower: z.number().nullable(),
  upper: z.number().nullable(),
  score: z.number(),
  reason: z.string(),
  attributes: z.record(z.string(), z.unknown()).nullish().describe("a record detector's fields of the record, the model version that scored"),
  runId: z.string(),
});

const AnomalyCursorSchema = z.object({ date: IsoDateSchema, id: NameSchema });

const QualityQuerySchema = z.object({
  dataset: NameSchema,
  from: IsoDateSchema.optional().describe('default: 30 days before to'),
  to: IsoDateSchema.optional().describe('default: today (UTC)'),
});

const QualityRowSchema = z.object({
  date: z.string(),
  runId: z.string(),
  expectation: z.string(),
  type: z.string(),
  column: z.string().nullable(),
  severity: z.enum(['warn', 'fail']),
  passed: z.boolean(),
  observed: z.number().nullable(),
  failingRows: z.number().nullable(),
  sample: z.array(z.record(z.string(), z.unknown())),
});

export function resultsRoutes(api: Api, { app }: ApiContext): void {
  api.get(
    '/v1/anomalies',
    {
      config: { scope: 'read' },
      // Up to 10,000 rows the store gives in exactly their schema's shape.
      serializerCompiler: writtenAsBuilt,
      schema: {
        tags: ['results'],
        summary: "a pipeline's published anomalies by date then id, a page at a time",
        security: BEARER,
        querystring: AnomaliesQuerySchema,
        response: { 200: z.object({ anomalies: z.array(StoredAnomalySchema), nextCursor: z.string().nullable() }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { pipeline, from, to, entity, minScore, limit, cursor } = request.query;
      const config = app.config.pipelines[pipeline];
      if (config === undefined) throw new InputError(`unknown pipeline "${pipeline}" (pipelines: ${Object.keys(app.config.pipelines).join(', ')})`);
      const after = cursor === undefined ? undefined : decodeCursor(cursor, AnomalyCursorSchema);
      const page = await app.store.listAnomalyPage(pipelineTables(pipeline, config).anomaliesTable, { from, to, entity, minScore, after, limit: limit + 1 });
      const last = page.length > limit ? page[limit - 1] : undefined;
      return { anomalies: page.slice(0, limit), nextCursor: last === undefined ? null : encodeCursor({ date: last.date, id: last.id }) };
    },
  );

  api.get(
    '/v1/quality',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['results'],
        summary: "a dataset's data-quality results: every expectation of every run, per date",
        security: BEARER,
        querystring: QualityQuerySchema,
        response: { 200: z.object({ dataset: z.string(), from: z.string(), to: z.string(), results: z.array(QualityRowSchema) }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { dataset } = request.query;
      if (!(dataset in app.config.datasets)) throw new InputError(`unknown dataset "${dataset}" (datasets: ${Object.keys(app.config.datasets).join(', ')})`);
      const { from, to } = dateWindow(request.query);
      return { dataset, from, to, results: await app.store.listDatasetQuality(dataset, from, to) };
    },
  );
}
