/** A watched pipeline's model in production, as `detour monitor` reports it: performance per day and version, drift with its thresholds, alarms. */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { dateWindow, errorResponses, IsoDateSchema, NameSchema } from '../schemas.js';

const ModelRefSchema = z.object({ name: z.string(), version: z.number().int() });

const PerformanceSchema = z.object({
  date: z.string(),
  model: ModelRefSchema,
  predictions: z.number().int().describe('predictions the version made for the date'),
  matched: z.number().int().describe('those whose ground truth arrived'),
  positives: z.number().int().describe('matched predictions whose outcome was 1'),
  auc: z.number().nullable().describe('null when no ground truth arrived or its outcomes are all the same'),
  logLoss: z.number().nullable(),
  brier: z.number().nullable(),
  calibration: z.array(z.object({ from: z.number(), to: z.number(), rows: z.number(), mean_probability: z.number(), observed_rate: z.number() })),
});

const DriftSchema = z.object({
  date: z.string(),
  model: ModelRefSchema,
  feature: z.string().describe('a feature of the model, or `score` (its output)'),
  windowDays: z.number().int().describe('days of predictions compared with the training values, ending at date'),
  rows: z.number().int(),
  constant: z.boolean().describe('the training values were all the same: psi and ks are null'),
  psi: z.number().nullable(),
  ks: z.number().nullable(),
});

const DaySchema = z.object({
  date: z.string(),
  actuals: z.number().int().describe("ground-truth rows found in the date's partition"),
  unmatchedActuals: z.number().int().describe('of those, rows no prediction has: counted, never joined'),
  flagged: z.number().int(),
  truePositives: z.number().int(),
  falsePositives: z.number().int(),
  falseNegatives: z.number().int(),
});

const ForecastSchema = z.object({
  date: z.string(),
  detector: z.string().describe('a forecasting series detector: arima, stream, autoencoder or shallow'),
  model: ModelRefSchema.nullable().describe('the registered model version that forecast; null when the detector fitted the run\'s data itself'),
  points: z.number().int().describe("the date's points with a value and a forecast, flagged or not"),
  mae: z.number().describe('mean absolute error of the forecasts (each point\'s expected value), in the value\'s units'),
  mapePoints: z.number().int().describe('of those, points whose value is not zero: MAPE leaves zero values out'),
  mape: z.number().nullable().describe('mean absolute percentage error over mapePoints, in percent; null when every value was zero'),
});

const AlarmSchema = z.object({
  alarm: z.string().describe('drift, performance, stale, flag_rate or run_failed'),
  state: z.enum(['firing', 'resolved']),
  message: z.string().describe('what it said when it last changed'),
  date: z.string().nullable().describe('the logical date it changed for'),
  changedAt: z.string(),
});

const ThresholdsSchema = z.object({
  psi: z.number().describe('PSI above this is drift'),
  ks: z.number().nullable().describe('KS above this is drift too; null: PSI alone decides'),
  features: z.array(z.string()).nullable().describe('the features whose drift fires the alarm; null: all of them'),
  minAuc: z.number().nullable(),
  maxLogLoss: z.number().nullable(),
  minRows: z.number().int().describe('predictions with ground truth a day needs before its performance is judged'),
});

const MonitoringSchema = z.object({
  pipeline: z.string(),
  from: z.string(),
  to: z.string(),
  thresholds: ThresholdsSchema,
  performance: z.array(PerformanceSchema),
  drift: z.array(DriftSchema),
  days: z.array(DaySchema),
  forecasts: z.array(ForecastSchema).describe('forecast accuracy of the series detectors per day, detector and model version'),
  alarms: z.array(AlarmSchema).describe('each alarm of the pipeline as it last changed (firing or resolved)'),
});

export function monitoringRoutes(api: Api, { app }: ApiContext): void {
  api.get(
    '/v1/monitoring',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['models'],
        summary: "a watched pipeline's model in production over a window: performance against ground truth per day and version, drift per feature and day with the thresholds, forecast accuracy (MAE, MAPE) of its series detectors, and its alarms",
        security: BEARER,
        querystring: z.object({
          pipeline: NameSchema,
          from: IsoDateSchema.optional().describe('default: 30 days before to'),
          to: IsoDateSchema.optional().describe('default: today (UTC)'),
        }),
        response: { 200: MonitoringSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { pipeline } = request.query;
      const config = app.config.pipelines[pipeline];
      if (config === undefined) throw new InputError(`unknown pipeline "${pipeline}" (pipelines: ${Object.keys(app.config.pipelines).join(', ')})`);
      if (config.monitor === undefined) throw new InputError(`pipeline "${pipeline}" is not monitored: give it \`monitor:\` in detour.yaml`);
      const { from, to } = dateWindow(request.query);
      const { drift, alarms } = config.monitor;
      const [report, records] = await Promise.all([app.store.listMonitoring(pipeline, from, to), app.store.listAlarms(pipeline)]);
      return {
        pipeline,
        from,
        to,
        thresholds: { psi: drift.psi, ks: drift.ks ?? null, features: drift.features ?? null, minAuc: alarms.minAuc ?? null, maxLogLoss: alarms.maxLogLoss ?? null, minRows: alarms.minRows },
        ...report,
        alarms: records.map((record) => ({ alarm: record.alarm, state: record.state, message: record.message, date: record.date, changedAt: record.changedAt.toISOString() })),
      };
    },
  );
}
