/** People's verdicts on published anomalies, which the monitor step counts (precision and recall of the flags). */
import { z } from 'zod';
import { InputError, NotFoundError } from '../../errors.js';
import { pipelineTables } from '../../pipeline/index.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { errorResponses, IsoDateSchema, NameSchema } from '../schemas.js';

const VerdictSchema = z.enum(['true_positive', 'false_positive', 'false_negative']).describe('true_positive / false_positive: on a published anomaly; false_negative: a record of the date that should have been flagged');

const FeedbackBodySchema = z
  .object({
    pipeline: NameSchema,
    date: IsoDateSchema.describe("the anomaly's logical date"),
    id: NameSchema.describe("the anomaly's id (for false_negative, the record's)"),
    verdict: VerdictSchema,
    note: z.string().max(2000).optional(),
  })
  .strict();

const StoredFeedbackSchema = z.object({
  pipeline: z.string(),
  date: z.string(),
  id: z.string(),
  verdict: VerdictSchema,
  note: z.string().nullable(),
  recordedBy: z.string().nullable().describe("the API token's name"),
  recordedAt: z.string(),
});

export function feedbackRoutes(api: Api, { app }: ApiContext): void {
  api.post(
    '/v1/feedback',
    {
      // The people and tools that review findings already hold detect tokens; admin holds every scope.
      config: { scope: 'detect' },
      schema: {
        tags: ['results'],
        summary: 'record a verdict on an anomaly (a later verdict on the same one replaces it)',
        security: BEARER,
        body: FeedbackBodySchema,
        response: { 201: StoredFeedbackSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const { pipeline, date, id, verdict, note } = request.body;
      const config = app.config.pipelines[pipeline];
      if (config === undefined) throw new InputError(`unknown pipeline "${pipeline}" (pipelines: ${Object.keys(app.config.pipelines).join(', ')})`);
      if (verdict !== 'false_negative') {
        const published = await app.store.listAnomalies(pipelineTables(pipeline, config).anomaliesTable, date);
        if (!published.some((anomaly) => anomaly.id === id)) throw new NotFoundError(`${pipeline} published no anomaly "${id}" on ${date}`);
      }
      const stored = await app.store.recordFeedback({ pipeline, date, anomalyId: id, verdict, note: note ?? null, recordedBy: request.tokenName });
      return reply.code(201).send({ pipeline, date, id, verdict, note: stored.note ?? null, recordedBy: stored.recordedBy ?? null, recordedAt: stored.recordedAt.toISOString() });
    },
  );
}
