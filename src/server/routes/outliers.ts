/**
 * rb-aioutliers' `POST /api/v1/outliers`, for the redBorder web UI: a form with `data` (base64 of
 * a Druid timeseries result), `model` (base64 of a model name) and `query` (base64 of a Druid
 * query), answered with the same keys and timestamps. Unlike rb-aioutliers, errors are 4xx (5xx
 * only for the server's own failures), not 200 with status "error".
 */
import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { InputError, oneLine } from '../../errors.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { queryDruid } from '../druid.js';
import { errorResponses, finiteOrNull, instantMs, ModelNameSchema, writtenAsBuilt } from '../schemas.js';
import { checkedSeries, type RequestSeries } from '../series.js';

const OutliersFormSchema = z
  .object({
    data: z.string().optional().describe('base64 of a Druid timeseries result, [{"timestamp": "...", "result": {"<metric>": n, ...}}, ...]: the first metric is scored. Wins over query.'),
    model: z.string().optional().describe("base64 of a registered model's name (<model>/<entity>): its production version scores; absent or unknown: the shallow model"),
    query: z.string().optional().describe('base64 of a Druid query, run on the broker at druid.url'),
  })
  .nullish();

const OutliersAnswerSchema = z.object({
  status: z.literal('success'),
  anomalies: z.array(z.object({ timestamp: z.string(), expected: z.number().nullable() })).describe('the points that stand out, with what was expected'),
  predicted: z.array(z.object({ timestamp: z.string(), forecast: z.number().nullable() })).describe('what was expected at every point'),
});

type OutliersAnswer = z.infer<typeof OutliersAnswerSchema>;

/** A number as JSON.stringify writes it. */
const jsonNumber = (value: number | null) => (value === null ? 'null' : String(value));

/**
 * The answer's JSON exactly as JSON.stringify writes it, put together a point at a time: a day is
 * 2,000-odd small objects, which the generic walk takes several times longer over. Timestamps are
 * instants {@link instantMs} read (digits, T, Z, -, +, :, .): nothing in them to escape.
 */
function outliersJson(answer: OutliersAnswer): string {
  let anomalies = '';
  for (const { timestamp, expected } of answer.anomalies) anomalies += `${anomalies === '' ? '' : ','}{"timestamp":"${timestamp}","expected":${jsonNumber(expected)}}`;
  let predicted = '';
  for (const { timestamp, forecast } of answer.predicted) predicted += `${predicted === '' ? '' : ','}{"timestamp":"${timestamp}","forecast":${jsonNumber(forecast)}}`;
  return `{"status":"${answer.status}","anomalies":[${anomalies}],"predicted":[${predicted}]}`;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
/** A form field's base64 decoded to text (whitespace ignored, standard or URL-safe alphabet). */
function decodedText(field: string, value: string): string {
  let compact = value;
  if (!BASE64.test(value)) {
    // Whitespace (wrapped lines) is ignored, copied out only when there is some; anything else is not base64.
    compact = value.replace(/\s+/g, '');
    if (!BASE64.test(compact)) throw new InputError(`${field} is not base64`);
  }
  if (compact.length % 4 === 1) throw new InputError(`${field} is not base64`);
  const bytes = Buffer.from(compact, 'base64');
  if (!isUtf8(bytes)) throw new InputError(`${field} is not UTF-8 text once base64-decoded`);
  return bytes.toString('utf8');
}

function decodedJson(field: string, value: string): unknown {
  const text = decodedText(field, value);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError(`${field} is not JSON once base64-decoded: ${oneLine(error)}`, { cause: error });
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The first metric of a Druid timeseries result (`[{timestamp, result: {metric: n, ...}}, ...]`)
 * as a series; null values are missing points. Checked by hand rather than by a zod schema: a day
 * is 1,440 rows, and this runs on every request.
 */
function druidSeries(result: unknown, maxPoints: number): RequestSeries {
  const notDruid = (where: string, what: string) => new InputError(`data is not a Druid timeseries result: ${where}: ${what}`);
  if (!Array.isArray(result)) throw notDruid('data', 'expected an array of {timestamp, result}');
  const first: unknown = result[0];
  const metric = isObject(first) && isObject(first.result) ? Object.keys(first.result)[0] : undefined;
  if (result.length > 0 && isObject(first) && isObject(first.result) && metric === undefined) throw new InputError('data[0].result has no metric to score');
  const timestampsMs = new Float64Array(result.length);
  const values = new Float64Array(result.length);
  const timestamps: string[] = [];
  result.forEach((row: unknown, index) => {
    if (!isObject(row)) throw notDruid(`data.${index}`, 'expected an object {timestamp, result}');
    const { timestamp, result: metrics } = row;
    const notInstant = () => notDruid(`data.${index}.timestamp`, `expected an ISO 8601 date and time with a zone, e.g. 2023-09-28T07:00:00.000Z`);
    if (typeof timestamp !== 'string') throw notInstant();
    const timeMs = instantMs(timestamp);
    if (Number.isNaN(timeMs)) throw notInstant();
    if (!isObject(metrics)) throw notDruid(`data.${index}.result`, 'expected an object of metrics');
    const value = metrics[metric as string] ?? null;
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value))) {
      throw new InputError(`data[${index}].result.${metric} must be a finite number or null, got ${JSON.stringify(value)?.slice(0, 40) ?? String(value)}`);
    }
    timestampsMs[index] = timeMs;
    values[index] = value ?? Number.NaN;
    timestamps.push(timestamp);
  });
  return checkedSeries({ timestampsMs, values, timestamps }, maxPoints, 'data');
}

export function outliersRoutes(api: Api, { app, detection }: ApiContext): void {
  api.post(
    '/api/v1/outliers',
    {
      config: { scope: 'detect' },
      // The answer (200) is built by the handler in exactly its schema's shape; errors are small.
      serializerCompiler: ({ httpStatus }) => (httpStatus === '200' ? (answer) => outliersJson(answer as OutliersAnswer) : writtenAsBuilt()),
      schema: {
        tags: ['detection'],
        summary: 'rb-aioutliers compatible: anomalies and expected values of a Druid timeseries',
        consumes: ['application/x-www-form-urlencoded'],
        security: BEARER,
        body: OutliersFormSchema,
        response: { 200: OutliersAnswerSchema, ...errorResponses(400, 401, 403, 413, 415, 429, 502, 503) },
      },
    },
    async (request) => {
      const form = request.body;
      if (form === undefined || form === null) throw new InputError('send a form (application/x-www-form-urlencoded) with data or query');
      let modelName: string | undefined;
      if (form.model !== undefined) {
        const name = decodedText('model', form.model);
        const checked = ModelNameSchema.safeParse(name);
        if (!checked.success) throw new InputError(`model ${JSON.stringify(name.slice(0, 60))}: ${checked.error.issues[0].message}`);
        modelName = checked.data;
      }
      const { maxPoints } = app.config.api;
      let series: RequestSeries;
      if (form.data !== undefined) series = druidSeries(decodedJson('data', form.data), maxPoints);
      else if (form.query !== undefined) {
        const query = decodedJson('query', form.query);
        if (typeof query !== 'object' || query === null || Array.isArray(query)) throw new InputError('query must be a Druid query: a JSON object');
        series = druidSeries(await queryDruid(app.config.druid, query, request.abandoned), maxPoints);
      } else throw new InputError('send data (base64 of a Druid timeseries result) or query (base64 of a Druid query)');

      const model = modelName === undefined ? null : await detection.production(modelName);
      // The answer gives no reasons: a model's scores are enough.
      const verdicts = model === null ? await detection.series('shallow', series, {}, request.abandoned) : detection.modelScores(model, [series.values], series.timestampsMs);
      const predicted = series.timestamps.map((timestamp, t) => ({ timestamp, forecast: finiteOrNull(verdicts.expected[t]) }));
      return {
        status: 'success' as const,
        anomalies: predicted.flatMap((point, t) => (verdicts.anomalous[t] === 1 ? [{ timestamp: point.timestamp, expected: point.forecast }] : [])),
        predicted,
      };
    },
  );
}
