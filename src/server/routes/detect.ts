/** `POST /v1/detect`: any detector of detour on a series or records sent with the request, or a registered model's production version. */
import { z } from 'zod';
import { RECORD_DETECTORS, recordParams, SERIES_DETECTORS, seriesParams, type RecordDetectorName, type SeriesDetectorName, type Verdicts } from '../../detectors/index.js';
import { InputError, NotFoundError } from '../../errors.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { errorResponses, finiteOrNull, InstantSchema, ModelNameSchema, writtenAsBuilt } from '../schemas.js';
import { recordsOf, seriesOf, type RequestRecords, type RequestSeries } from '../series.js';

const DETECTOR_NAMES = [...new Set([...SERIES_DETECTORS, ...RECORD_DETECTORS, 'autoencoder'])] as [string, ...string[]];

const DetectRequestSchema = z
  .object({
    detector: z.enum(DETECTOR_NAMES).optional().describe('fitted on the data sent: shallow, arima, stream, iforest (series); dbscan, iforest (records). autoencoder scores with a model only'),
    model: ModelNameSchema.optional().describe('instead of detector: score with the production version of this registered model'),
    series: z.array(z.object({ timestamp: InstantSchema, value: z.number().nullable().describe('null: a missing point') }).strict()).optional().describe('points with ascending timestamps'),
    records: z.array(z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]))).optional().describe('objects with numeric features and an optional id'),
    features: z.array(z.string().min(1).max(100)).min(1).max(20).optional().describe("the records' fields to judge; default: every numeric field of the first record but id"),
    params: z.record(z.string(), z.unknown()).optional().describe("the detector's parameters, e.g. {eps: 0.3, minSamples: 10} for dbscan"),
  })
  .strict();

const AnomalySchema = z.object({
  timestamp: z.string().optional().describe('of a series point, as sent'),
  id: z.string().optional().describe("of a record: its id, else its position"),
  feature: z.string().optional().describe('of a record: the feature value, expected and the band are about'),
  value: z.number().nullable(),
  expected: z.number().nullable(),
  lower: z.number().nullable(),
  upper: z.number().nullable(),
  score: z.number().nullable().describe('0..1, higher is more anomalous'),
  reason: z.string(),
});

const DetectAnswerSchema = z.object({
  anomalies: z.array(AnomalySchema),
  model: z.object({ name: z.string(), version: z.number().int() }).nullable().describe('the registered version that scored, if any'),
});

type DetectRequest = z.infer<typeof DetectRequestSchema>;
type Anomaly = z.infer<typeof AnomalySchema>;

/** The anomalous points of `verdicts`, each named by `name(index)`. */
function anomaliesOf(verdicts: Verdicts, name: (index: number) => Pick<Anomaly, 'timestamp' | 'id' | 'feature'>): Anomaly[] {
  const anomalies: Anomaly[] = [];
  for (let index = 0; index < verdicts.anomalous.length; index++) {
    if (verdicts.anomalous[index] === 0) continue;
    anomalies.push({
      ...name(index),
      value: finiteOrNull(verdicts.value[index]),
      expected: finiteOrNull(verdicts.expected[index]),
      lower: finiteOrNull(verdicts.lower[index]),
      upper: finiteOrNull(verdicts.upper[index]),
      score: finiteOrNull(verdicts.score[index]),
      reason: verdicts.reasons[anomalies.length],
    });
  }
  return anomalies;
}

/** The features of records to judge: as asked, else every numeric field of the first record but its id. */
function featuresOf(request: DetectRequest, records: readonly Record<string, unknown>[]): string[] {
  if (request.features !== undefined) return request.features;
  const numeric = Object.entries(records[0] ?? {}).filter(([field, value]) => field !== 'id' && typeof value === 'number').map(([field]) => field);
  if (numeric.length === 0) throw new InputError('records: name the features to judge (features), or send records with numeric fields');
  return numeric;
}

type DetectAnswer = z.infer<typeof DetectAnswerSchema>;

/** Anomalies of a series, named by their timestamps as sent. */
function seriesAnomalies(verdicts: Verdicts, series: RequestSeries): Anomaly[] {
  return anomaliesOf(verdicts, (index) => ({ timestamp: series.timestamps[index] }));
}

/** Anomalies of records, named by their ids and the feature they are about. */
function recordAnomalies(verdicts: Verdicts, records: RequestRecords, features: readonly string[]): Anomaly[] {
  return anomaliesOf(verdicts, (index) => ({ id: records.ids[index], feature: features[verdicts.feature[index]] }));
}

/** Scores with the production version of a registered model: a series when it has one feature, else records with its features. */
async function detectWithModel({ app, detection }: ApiContext, body: DetectRequest & { model: string }): Promise<DetectAnswer> {
  if (body.params !== undefined) throw new InputError('params go with a detector; a model keeps the params it was trained with');
  const model = await detection.production(body.model);
  if (model === null) throw new NotFoundError(`model ${body.model} has no production version (GET /v1/models/${body.model} lists its versions)`);
  const version = { name: model.record.name, version: model.record.version };
  if (body.series !== undefined) {
    const series = seriesOf(body.series, app.config.api.maxPoints, 'series');
    return { anomalies: seriesAnomalies(detection.withModel(model, [series.values], series.timestampsMs), series), model: version };
  }
  const features = body.features ?? model.features;
  const records = recordsOf(body.records ?? [], features, app.config.api.maxPoints);
  return { anomalies: recordAnomalies(detection.withModel(model, records.columns, new Float64Array(records.ids.length).fill(Number.NaN)), records, features), model: version };
}

/** Fits the detector on the data sent and judges it, on a pool thread. */
async function detectWithDetector({ app, detection }: ApiContext, body: DetectRequest & { detector: string }, signal: AbortSignal): Promise<DetectAnswer> {
  const { detector } = body;
  if (detector === 'autoencoder') throw new InputError('autoencoder scores with a trained model: give model (a registered <model>/<entity>) instead of detector');
  if (body.series !== undefined) {
    if (!SERIES_DETECTORS.includes(detector as SeriesDetectorName)) throw new InputError(`${detector} judges records, not a series: send records`);
    const params = seriesParams(detector as SeriesDetectorName, body.params);
    const series = seriesOf(body.series, app.config.api.maxPoints, 'series');
    return { anomalies: seriesAnomalies(await detection.series(detector as SeriesDetectorName, series, params, signal), series), model: null };
  }
  if (!RECORD_DETECTORS.includes(detector as RecordDetectorName)) throw new InputError(`${detector} judges a series, not records: send series`);
  const params = recordParams(detector as RecordDetectorName, body.params);
  const features = featuresOf(body, body.records ?? []);
  const records = recordsOf(body.records ?? [], features, app.config.api.maxPoints);
  return { anomalies: recordAnomalies(await detection.records(detector as RecordDetectorName, records, features, params, signal), records, features), model: null };
}

export function detectRoutes(api: Api, context: ApiContext): void {
  api.post(
    '/v1/detect',
    {
      config: { scope: 'detect' },
      serializerCompiler: writtenAsBuilt,
      schema: {
        tags: ['detection'],
        summary: 'anomalies of a series or of records, by a detector fitted on them or a registered model',
        security: BEARER,
        body: DetectRequestSchema,
        response: { 200: DetectAnswerSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request) => {
      const { body } = request;
      if ((body.detector === undefined) === (body.model === undefined)) throw new InputError('give either detector or model');
      if ((body.series === undefined) === (body.records === undefined)) throw new InputError('send either series or records');
      return body.model !== undefined ? detectWithModel(context, { ...body, model: body.model }) : detectWithDetector(context, { ...body, detector: body.detector as string }, request.abandoned);
    },
  );
}
