/**
 * What the dashboard plots beside the anomalies, open to every script too: a day's records with
 * the flagged ones, an entity's series with its expected band, a day's quarantined rows, and who
 * the presented token is.
 */
import { z } from 'zod';
import type { TablePipelineConfig } from '../../config/index.js';
import { InputError, oneLine } from '../../errors.js';
import { listSeriesEntities, pipelineTables, readDayRecords, readEntitySeries, readQuarantine, RECORD_DETECTOR_KINDS, SERIES_DETECTOR_KINDS } from '../../pipeline/index.js';
import { authorize, type Scope } from '../auth.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { dateWindow, errorResponses, finiteOrNull, IsoDateSchema, NameSchema, writtenAsBuilt } from '../schemas.js';

const AxisSchema = z.object({ column: z.string(), label: z.string(), unit: z.string().nullable() });

const FlaggedSchema = z.object({
  index: z.number().int().describe('the record’s position in ids, x and y'),
  id: z.string(),
  detector: z.string(),
  score: z.number(),
  reason: z.string(),
});

const RecordsSchema = z.object({
  pipeline: z.string(),
  date: z.string(),
  table: z.string(),
  x: AxisSchema,
  y: AxisSchema,
  ids: z.array(z.string()),
  xValues: z.array(z.number().nullable()),
  yValues: z.array(z.number().nullable()),
  flagged: z.array(FlaggedSchema).describe('the published anomalies of the date among these records'),
});

const SeriesPointSchema = z.object({
  time: z.string(),
  value: z.number().nullable(),
  expected: z.number().nullable(),
  lower: z.number().nullable(),
  upper: z.number().nullable(),
});

const SeriesSchema = z.object({
  pipeline: z.string(),
  entity: z.string(),
  table: z.string(),
  value: z.string().describe('the column plotted'),
  band: z.string().describe('what drew the expected value and band: ARIMA fitted on the series, or why there is none'),
  points: z.array(SeriesPointSchema),
  anomalies: z.array(z.object({ date: z.string(), detector: z.string(), value: z.number().nullable(), expected: z.number().nullable(), score: z.number(), reason: z.string() })).describe('published anomalies of the entity in the window'),
});

const WindowQuerySchema = z.object({
  pipeline: NameSchema,
  from: IsoDateSchema.optional().describe('default: 30 days before to'),
  to: IsoDateSchema.optional().describe('default: today (UTC)'),
});

const QuarantineSchema = z.object({
  dataset: z.string(),
  date: z.string(),
  rows: z.number().int(),
  reasons: z.array(z.object({ reason: z.string(), rows: z.number().int() })),
  sample: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))),
});

const PipelinesSchema = z.object({
  pipelines: z.array(
    z.object({
      name: z.string(),
      dataset: z.string(),
      detectors: z.array(z.string()),
      records: z.boolean().describe('it has a record detector: /v1/records plots its days'),
      series: z.boolean().describe('it has a series detector: /v1/series plots its entities'),
      monitored: z.boolean().describe('it is watched in production (`monitor:`): /v1/monitoring reports it'),
    }),
  ),
  datasets: z.array(z.string()),
});

const SessionSchema = z.object({
  authenticated: z.boolean().describe('whether this server asks for tokens at all'),
  name: z.string().nullable(),
  scopes: z.array(z.enum(['read', 'detect', 'admin'])),
});

/** Published anomalies read per series request: beyond that the band still shows, the markers stop. */
const MAX_SERIES_ANOMALIES = 10_000;

function pipelineOf(app: ApiContext['app'], name: string): TablePipelineConfig {
  const pipeline = app.config.pipelines[name];
  if (pipeline === undefined) throw new InputError(`unknown pipeline "${name}" (pipelines: ${Object.keys(app.config.pipelines).join(', ')})`);
  return pipeline;
}

const finiteList = (values: Float64Array) => Array.from(values, finiteOrNull);

export function exploreRoutes(api: Api, { app, detection, tokens }: ApiContext): void {
  api.get(
    '/v1/records',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['results'],
        summary: "every record of a day a pipeline's record detector judged (id and the two plotted columns) and which of them were flagged",
        security: BEARER,
        querystring: z.object({ pipeline: NameSchema, date: IsoDateSchema }),
        response: { 200: RecordsSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
      serializerCompiler: writtenAsBuilt,
    },
    async (request) => {
      const { pipeline: name, date } = request.query;
      const pipeline = pipelineOf(app, name);
      const records = await readDayRecords(app.lake, name, pipeline, date);
      const position = new Map(records.ids.map((id, index) => [id, index]));
      const published = await app.store.listAnomalies(pipelineTables(name, pipeline).anomaliesTable, date);
      const flagged = published.flatMap((anomaly) => {
        const index = position.get(anomaly.id);
        return index === undefined ? [] : [{ index, id: anomaly.id, detector: anomaly.detector, score: anomaly.score, reason: anomaly.reason }];
      });
      return { pipeline: name, date, table: records.table, x: records.x, y: records.y, ids: records.ids, xValues: finiteList(records.xValues), yValues: finiteList(records.yValues), flagged };
    },
  );

  api.get(
    '/v1/entities',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['results'],
        summary: "the entities of a pipeline's series detector (airports, sensors) with data in a window",
        security: BEARER,
        querystring: WindowQuerySchema,
        response: { 200: z.object({ pipeline: z.string(), entities: z.array(z.string()) }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { pipeline: name } = request.query;
      return { pipeline: name, entities: await listSeriesEntities(app.lake, name, pipelineOf(app, name), dateWindow(request.query)) };
    },
  );

  api.get(
    '/v1/series',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['results'],
        summary: "one entity's series of a pipeline's series detector, with the value ARIMA expects and its band, and the published anomalies",
        security: BEARER,
        querystring: WindowQuerySchema.extend({ entity: NameSchema }),
        response: { 200: SeriesSchema, ...errorResponses(400, 401, 403, 429, 503) },
      },
    },
    async (request) => {
      const { pipeline: name, entity } = request.query;
      const pipeline = pipelineOf(app, name);
      const window = dateWindow(request.query);
      const series = await readEntitySeries(app.lake, name, pipeline, entity, window);
      const count = series.values.length;
      const nothing = new Float64Array(count).fill(Number.NaN);
      let band: { expected: Float64Array; lower: Float64Array; upper: Float64Array } = { expected: nothing, lower: nothing, upper: nothing };
      let bandSource = 'ARIMA fitted on the series shown (one-step-ahead prediction and interval)';
      if (count > app.config.api.maxPoints) bandSource = `no band: ${count} points, more than api.maxPoints`;
      else {
        try {
          band = await detection.series('arima', { timestampsMs: series.timeMs, values: series.values, timestamps: [] }, { minHistory: 3 }, request.abandoned);
        } catch (error) {
          if (!(error instanceof InputError)) throw error;
          bandSource = `no band: ${oneLine(error)}`;
        }
      }
      const anomalies = await app.store.listAnomalyPage(pipelineTables(name, pipeline).anomaliesTable, { ...window, entity, limit: MAX_SERIES_ANOMALIES });
      return {
        pipeline: name,
        entity,
        table: series.table,
        value: series.value,
        band: bandSource,
        points: Array.from(series.timeMs, (timeMs, i) => ({
          time: new Date(timeMs).toISOString(),
          value: finiteOrNull(series.values[i]),
          expected: finiteOrNull(band.expected[i]),
          lower: finiteOrNull(band.lower[i]),
          upper: finiteOrNull(band.upper[i]),
        })),
        anomalies: anomalies.map(({ date, detector, value, expected, score, reason }) => ({ date, detector, value, expected, score, reason })),
      };
    },
  );

  api.get(
    '/v1/quarantine',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['results'],
        summary: "a dataset's quarantined rows of a day: the count per reason and the first rows, every column as text",
        security: BEARER,
        querystring: z.object({ dataset: NameSchema, date: IsoDateSchema, limit: z.coerce.number().int().min(0).max(1000).default(20) }),
        response: { 200: QuarantineSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { dataset, date, limit } = request.query;
      if (!(dataset in app.config.datasets)) throw new InputError(`unknown dataset "${dataset}" (datasets: ${Object.keys(app.config.datasets).join(', ')})`);
      return { dataset, date, ...(await readQuarantine(app.lake, dataset, date, limit)) };
    },
  );

  api.get(
    '/v1/pipelines',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['results'],
        summary: 'the configured pipelines (their dataset and detectors) and datasets',
        security: BEARER,
        response: { 200: PipelinesSchema, ...errorResponses(401, 403, 429) },
      },
    },
    async () => ({
      pipelines: Object.entries(app.config.pipelines).map(([name, pipeline]) => {
        const detectors = pipeline.detect.map((step) => step.detector);
        return { name, dataset: pipeline.dataset, detectors, records: detectors.some((detector) => RECORD_DETECTOR_KINDS.includes(detector)), series: detectors.some((detector) => SERIES_DETECTOR_KINDS.includes(detector)), monitored: pipeline.monitor !== undefined };
      }),
      datasets: Object.keys(app.config.datasets),
    }),
  );

  api.get(
    '/v1/session',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['health'],
        summary: 'the presented token: its name and scopes (what a client may offer its user to do)',
        security: BEARER,
        response: { 200: SessionSchema, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => {
      if (tokens.length === 0) return { authenticated: false, name: null, scopes: ['read', 'detect', 'admin'] as Scope[] };
      const outcome = authorize(tokens, request.headers.authorization, 'read');
      const token = outcome.status === 'allowed' ? outcome.token : undefined;
      return { authenticated: true, name: token?.name ?? null, scopes: token === undefined ? [] : [...token.scopes] };
    },
  );
}
