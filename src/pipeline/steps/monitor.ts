import { z } from 'zod';
import { addDays } from '../../dates.js';
import { openEngine } from '../../engine/index.js';
import { InputError } from '../../errors.js';
import { alarmChannelsOf, applyAlarmVerdicts, driftVerdict, flagRateVerdict, performanceVerdict, type AlarmVerdict } from '../alarms.js';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import type { PerDate, StepContext } from '../context.js';
import { forecastAccuracy } from '../forecast-errors.js';
import { countActuals, flagCounts, loadMonitorTables, measureDrift, measurePerformance, MonitoredVersions } from '../monitor.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';
import { upstreamOf } from './upstream.js';

/** What the monitor step found for one date of its run. */
export interface MonitoredDate {
  /** Ground-truth rows of the date's partition, and those matching no prediction (counted, not joined). */
  actuals: number;
  unmatched_actuals: number;
  /** Performance of the dates whose predictions this date's ground truth may concern, as now known. */
  performance: { date: string; model: string; version: number; predictions: number; matched: number; auc: number | null }[];
  /** Drift of each feature and the score over the window ending at the date. */
  drift: { model: string; version: number; feature: string; psi: number | null; ks: number | null; constant: boolean }[];
  /** What drift could not be measured for: a window missing days, versions without a training reference. */
  unmeasured: string[];
  /** Alarms that changed state for the date. */
  alarms: { alarm: string; state: string }[];
  /** Each forecasting series detector's accuracy over the date's points (absent in runs of detour before it was measured). */
  forecasts?: { detector: string; model: string | null; version: number | null; points: number; mae: number; mape: number | null }[];
}

const MonitoredDateSchema: z.ZodType<MonitoredDate> = z.object({
  actuals: z.number(),
  unmatched_actuals: z.number(),
  performance: z.array(z.object({ date: z.string(), model: z.string(), version: z.number(), predictions: z.number(), matched: z.number(), auc: z.number().nullable() })),
  drift: z.array(z.object({ model: z.string(), version: z.number(), feature: z.string(), psi: z.number().nullable(), ks: z.number().nullable(), constant: z.boolean() })),
  unmeasured: z.array(z.string()),
  alarms: z.array(z.object({ alarm: z.string(), state: z.string() })),
  forecasts: z.array(z.object({ detector: z.string(), model: z.string().nullable(), version: z.number().nullable(), points: z.number(), mae: z.number(), mape: z.number().nullable() })).optional(),
});

/** The features the monitored model takes: those of the version the run predicts with, else of its newest version; none without any. */
async function monitoredFeatures(context: StepContext, versions: MonitoredVersions): Promise<readonly string[] | undefined> {
  const { prediction } = context.params;
  if (prediction === undefined || context.params.pipeline.predict === undefined) return undefined;
  const version = prediction.version ?? (await context.store.listModels({ name: prediction.model })).filter((record) => record.name === prediction.model).at(-1)?.version;
  return version === undefined ? undefined : (await versions.get({ name: prediction.model, version })).contract.features;
}

async function monitorSpan(context: StepContext, span: DateSpan): Promise<PerDate<MonitoredDate>> {
  const { run, params, store } = context;
  const monitor = params.pipeline.monitor;
  if (monitor === undefined) throw new InputError(`run ${run.id} has no monitor step`);
  const dates = datesOf(span);
  const versions = new MonitoredVersions(context);
  // Without a model to watch (no predict step, or no version yet) only the anomalies and alarms are.
  const features = await monitoredFeatures(context, versions);
  const lookbackDays = monitor.actuals?.lookbackDays ?? 0;
  const { windowDays } = monitor.drift;
  const channels = alarmChannelsOf(params.pipeline);
  const alarmServices = { store, logger: context.logger };
  const engine = features === undefined ? undefined : await openEngine();
  try {
    if (engine !== undefined && features !== undefined) await loadMonitorTables(engine, context, monitor, { from: span.from, to: span.to, lookbackDays, windowDays }, features);
    const performance = engine === undefined ? [] : await measurePerformance(engine, addDays(span.from, -lookbackDays), span.to);
    // The run's series detect partitions kept their forecast errors; a date's rows add up over them.
    const forecasts = forecastAccuracy(upstreamOf(await store.listSteps(run.id)).detect.flatMap(({ output }) => output.forecasts ?? []));
    const monitored: Record<string, MonitoredDate> = {};
    for (const date of dates) {
      const actuals = engine === undefined ? { actuals: 0, unmatched: 0 } : await countActuals(engine, date, lookbackDays);
      const drift = engine === undefined || features === undefined ? { rows: [], unmeasured: ['no model to watch'] } : await measureDrift(engine, versions, features, date, windowDays);
      const flags = await flagCounts(context, date);
      const concerned = performance.filter((row) => row.date >= addDays(date, -lookbackDays) && row.date <= date);
      const dateForecasts = forecasts.filter((row) => row.date === date);
      await store.recordMonitoring(run.pipeline, run.id, {
        performance: date === span.to ? performance : [],
        drift: drift.rows,
        days: [{ date, actuals: actuals.actuals, unmatchedActuals: actuals.unmatched, ...flags }],
        forecasts: dateForecasts,
      });
      const verdicts: (AlarmVerdict | undefined)[] = [driftVerdict(drift.rows, monitor.drift), performanceVerdict(concerned, monitor.alarms)];
      const { flagRate } = monitor.alarms;
      if (flagRate !== undefined) {
        const earlier = await store.listMonitoring(run.pipeline, addDays(date, -flagRate.days), addDays(date, -1));
        verdicts.push(flagRateVerdict(flags.flagged, earlier.days.map((day) => day.flagged), flagRate));
      }
      if (date === span.to) {
        // This run is getting its data through: whatever said otherwise is over.
        verdicts.push({ alarm: 'run_failed', firing: false, message: `run ${run.id} is succeeding` });
        if (monitor.alarms.staleHours !== undefined) verdicts.push({ alarm: 'stale', firing: false, message: `run ${run.id} brought data of ${date}` });
      }
      const changes = await applyAlarmVerdicts(alarmServices, run.pipeline, channels, verdicts, date);
      monitored[date] = {
        actuals: actuals.actuals,
        unmatched_actuals: actuals.unmatched,
        performance: concerned.map((row) => ({ date: row.date, model: row.model.name, version: row.model.version, predictions: row.predictions, matched: row.matched, auc: row.auc })),
        drift: drift.rows.map((row) => ({ model: row.model.name, version: row.model.version, feature: row.feature, psi: row.psi, ks: row.ks, constant: row.constant })),
        unmeasured: drift.unmeasured,
        alarms: changes.map((change) => ({ alarm: change.alarm, state: change.state })),
        forecasts: dateForecasts.map((row) => ({ detector: row.detector, model: row.model?.name ?? null, version: row.model?.version ?? null, points: row.points, mae: row.mae, mape: row.mape })),
      };
    }
    return { dates: monitored };
  } finally {
    await engine?.close();
  }
}

/**
 * Monitor (after publish, with `monitor:`): per date, the predict step's predictions joined with
 * the ground truth that has arrived (see monitor.ts) and their drift from the model's training
 * data, the published anomalies with people's verdicts on them, the series detectors' forecast
 * accuracy (MAE, MAPE: see forecast-errors.ts), recorded in the run store; then
 * the pipeline's alarms evaluated and each change sent (see alarms.ts).
 */
export const monitorStep: StepHandler<DateSpan, PerDate<MonitoredDate>> = {
  kind: 'monitor',
  partition: DateSpanSchema,
  output: perDateSchema(MonitoredDateSchema),
  plan: (pipeline, dates) => (pipeline.monitor === undefined ? [] : planDateSpans(pipeline, dates)),
  run: monitorSpan,
};
