/**
 * `POST /v1/predict/{model}`: the probability of a supervised model's outcome for one row of
 * features, or for up to `MAX_PREDICT_ROWS` rows, by its production version (held loaded by
 * `App.supervisedModels`). Feature names, types and ranges are checked against what the model was
 * trained on (`predictProbabilities`); nothing here touches the database or the lake per request.
 */
import { z } from 'zod';
import { InputError, NotFoundError } from '../../errors.js';
import { predictProbabilities } from '../../pipeline/index.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { servedProduction } from '../detection.js';
import { errorResponses, ModelNameSchema, writtenAsBuilt } from '../schemas.js';

/** Most rows one request may ask probabilities for. */
export const MAX_PREDICT_ROWS = 10_000;

// Rows are only counted here: their features are checked against the model's own (names, numbers,
// ranges) by predictProbabilities, which says what is wrong in the model's terms.
const PredictRequestSchema = z
  .object({ rows: z.array(z.unknown()).min(1).max(MAX_PREDICT_ROWS).optional().describe(`up to ${MAX_PREDICT_ROWS} rows, each an object of the model's features`) })
  .catchall(z.unknown())
  .describe('one row of the features the model was trained on, e.g. {"temperature": 12, "precipitation": 0, "mileage": 40}, or {"rows": [...]}');

const ModelRefSchema = z.object({ name: z.string(), version: z.number().int() }).describe('the production version that predicted');

const PredictAnswerSchema = z.union([
  z.object({ probability: z.number().describe('of the outcome (1), 0..1'), model: ModelRefSchema }),
  z.object({ probabilities: z.array(z.number()).describe('one per row, in order'), model: ModelRefSchema }),
]);

export function predictRoutes(api: Api, { app }: ApiContext): void {
  api.post(
    '/v1/predict/:model',
    {
      config: { scope: 'detect' },
      serializerCompiler: writtenAsBuilt,
      schema: {
        tags: ['prediction'],
        summary: "a supervised model's probability of its outcome for one row of features or for rows",
        security: BEARER,
        params: z.object({ model: ModelNameSchema.describe('a registered supervised model, e.g. fleet_service') }),
        body: PredictRequestSchema,
        response: { 200: PredictAnswerSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request) => {
      const { model: name } = request.params;
      const { body } = request;
      const model = await servedProduction(app.supervisedModels, name, `POST /v1/detect scores with it`);
      if (model === null) throw new NotFoundError(`model ${name} has no production version (GET /v1/models/${name} lists its versions)`);
      const version = { name: model.record.name, version: model.record.version };
      if (body.rows === undefined) return { probability: predictProbabilities(model, [body])[0], model: version };
      if (Object.keys(body).length > 1) throw new InputError('send either rows or one row of features, not both');
      return { probabilities: Array.from(predictProbabilities(model, body.rows)), model: version };
    },
  );
}
