import { z } from 'zod';
import type { PredictStepConfig } from '../../config/index.js';
import { rowProblem } from '../../detectors/index.js';
import { openEngine, sqlIdentifier, type Engine } from '../../engine/index.js';
import { InputError, oneLine } from '../../errors.js';
import type { ModelRef, PredictionRow } from '../../store/index.js';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import type { PerDate, StepContext } from '../context.js';
import { pipelineLayout } from '../layout.js';
import { loadSupervisedModel, type LoadedSupervisedModel } from '../models.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';

/** What the predict step did for one date: how many rows got a probability, from which version, and why the others did not; or why it predicted nothing. */
export type PredictedDate =
  | {
      model: ModelRef;
      rows: number;
      /** Rows without a probability, by why (an id or feature missing, a feature out of its range). */
      unscored: { reason: string; rows: number }[];
      /** `gold/<pipeline>_predictions/date=D/data.parquet`. */
      key: string;
    }
  | { skipped: string };

export const PredictedDateSchema: z.ZodType<PredictedDate> = z.union([
  z.object({ model: z.object({ name: z.string(), version: z.number() }), rows: z.number(), unscored: z.array(z.object({ reason: z.string(), rows: z.number() })), key: z.string() }),
  z.object({ skipped: z.string() }),
]);

/** One date's rows of the step's table: ids and the model's features (NaN for missing), in id order. */
async function readDate(engine: Engine, context: StepContext, step: PredictStepConfig, features: readonly string[], date: string): Promise<{ ids: (string | null)[]; columns: Float64Array[] }> {
  const { pipeline } = context.params;
  const layout = pipelineLayout(context.run.pipeline, pipeline, date);
  const [path] = await engine.stage(context.lake, [step.table === pipeline.dataset ? layout.silver : layout.aggregate(step.table)]);
  let columns: Record<string, unknown[]>;
  try {
    columns = await engine.columns(
      `SELECT CAST(${sqlIdentifier(step.id)} AS VARCHAR) AS id, ${features.map((feature, k) => `CAST(${sqlIdentifier(feature)} AS DOUBLE) AS f${k}`).join(', ')}
      FROM read_parquet($1) ORDER BY id`,
      [path],
    );
  } catch (error) {
    throw new InputError(`predict step on ${step.table}: ${oneLine(error)}`, { cause: error });
  }
  return { ids: columns.id as (string | null)[], columns: features.map((_, k) => Float64Array.from(columns[`f${k}`] as (number | null)[], (value) => value ?? Number.NaN)) };
}

/**
 * Scores one date: every row with an id and its features in range gets the model's probability;
 * the others are counted with why. Writes the gold file (sorted by id, so a rerun writes the same
 * bytes) and makes the date's rows of the predictions table exactly these.
 */
async function predictDate(engine: Engine, context: StepContext, step: PredictStepConfig, loaded: LoadedSupervisedModel, date: string): Promise<PredictedDate> {
  const { lake, store, run, params } = context;
  const { features } = loaded.contract;
  const { ids, columns } = await readDate(engine, context, step, features, date);
  const unscored = new Map<string, number>();
  const scored: number[] = [];
  ids.forEach((id, row) => {
    const reason = id === null ? `${step.id} missing` : rowProblem(loaded.contract, columns, row);
    if (reason === undefined) scored.push(row);
    else unscored.set(reason, (unscored.get(reason) ?? 0) + 1);
  });
  for (let k = 1; k < scored.length; k++) {
    if (ids[scored[k]] === ids[scored[k - 1]]) throw new InputError(`predict step on ${step.table}: ${step.id} "${ids[scored[k]]}" occurs more than once on ${date}; predictions are keyed by it`);
  }
  const scoredColumns = columns.map((column) => Float64Array.from(scored, (row) => column[row]));
  const probabilities = loaded.kind.predictProbability(loaded.model, scoredColumns);
  const model: ModelRef = { name: loaded.record.name, version: loaded.record.version };
  const layout = pipelineLayout(run.pipeline, params.pipeline, date);
  await engine.createTable('predictions', [
    { name: 'id', type: 'VARCHAR', values: scored.map((row) => ids[row] as string) },
    ...features.map((feature, k) => ({ name: feature, type: 'DOUBLE' as const, values: scoredColumns[k] })),
    { name: 'probability', type: 'DOUBLE', values: probabilities },
  ]);
  const exported = engine.exportQuery(
    `SELECT id AS ${sqlIdentifier(step.id)}, ${features.map(sqlIdentifier).join(', ')}, probability, CAST($1 AS VARCHAR) AS model, CAST($2 AS INTEGER) AS model_version FROM predictions ORDER BY id`,
    lake,
    layout.predictions,
    'parquet',
    [model.name, model.version],
  );
  const rows: PredictionRow[] = scored.map((row, k) => ({ id: ids[row] as string, probability: probabilities[k], features: Object.fromEntries(features.map((feature, f) => [feature, scoredColumns[f][k]])) }));
  // The gold file (DuckDB's threads) and the table (the database) are written side by side; both are replaced whole, so either may land first.
  const [file, table] = await Promise.allSettled([exported, store.replacePredictions(layout.predictionsTable, date, run.id, model, rows)]);
  for (const written of [file, table]) if (written.status === 'rejected') throw written.reason;
  return { model, rows: rows.length, unscored: [...unscored].map(([reason, count]) => ({ reason, rows: count })).sort((a, b) => (a.reason < b.reason ? -1 : 1)), key: layout.predictions };
}

/**
 * Predict: per date, the probability of each row of the step's table under the model version the
 * run fixed when it started (see resolvePredictionModel), to `gold/<pipeline>_predictions/date=D/`
 * and the `<pipeline>_predictions` table. Nothing is predicted, with why, when the model had no
 * production version then; a version that is missing or does not load fails the step.
 */
export const predictStep: StepHandler<DateSpan, PerDate<PredictedDate>> = {
  kind: 'predict',
  partition: DateSpanSchema,
  output: perDateSchema(PredictedDateSchema),
  plan: (pipeline, dates) => (pipeline.predict === undefined ? [] : planDateSpans(pipeline, dates)),
  run: async (context, span) => {
    const step = context.params.pipeline.predict;
    const resolved = context.params.prediction;
    if (step === undefined || resolved === undefined) throw new InputError(`run ${context.run.id} has no predict step`);
    const dates = datesOf(span);
    if (resolved.version === null) {
      return { dates: Object.fromEntries(dates.map((date) => [date, { skipped: `no production version of model ${resolved.model} when the run started` }])) };
    }
    const loaded = await loadSupervisedModel(context.lake, await context.store.getModelVersion(resolved.model, resolved.version));
    const engine = await openEngine();
    try {
      const predicted: Record<string, PredictedDate> = {};
      for (const date of dates) predicted[date] = await predictDate(engine, context, step, loaded, date);
      return { dates: predicted };
    } finally {
      await engine.close();
    }
  },
};
