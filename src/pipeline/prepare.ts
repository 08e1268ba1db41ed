import { openEngine, sqlIdentifier, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { assertQualityGate, checkExpectations } from '../quality/index.js';
import type { AggregatedDate, CheckedDate, PerDate, StepContext } from './context.js';
import { pipelineLayout } from './layout.js';

/** The quality and aggregate steps: one date chunk each, reading the clean step's silver. */

/**
 * Stages a chunk's silver files and returns a loader that makes one date's file the dataset's
 * table: a view over the Parquet file, cheaper than copying it (DuckDB's per-table cost dominates
 * at a day's size).
 */
async function silverLoader(engine: Engine, context: StepContext, dates: string[]): Promise<(date: string) => Promise<void>> {
  const { lake, run, params } = context;
  const paths = await engine.stage(lake, dates.map((date) => pipelineLayout(run.pipeline, params.pipeline, date).silver));
  const pathOf = new Map(dates.map((date, i) => [date, paths[i]]));
  return async (date) => {
    // A view cannot take bound parameters: the file goes through a session variable.
    await engine.run(`SET VARIABLE silver_file = $1`, [pathOf.get(date) as string]);
    await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(params.pipeline.dataset)} AS SELECT * FROM read_parquet(getvariable('silver_file'))`);
  };
}

/**
 * Quality: each date's expectations; the report goes to the lake and the run store whatever the
 * outcome, then a failed `fail` expectation stops the run (QualityGateError) before publishing.
 */
export async function checkDates(context: StepContext, dates: string[]): Promise<PerDate<CheckedDate>> {
  const { lake, store, run, params } = context;
  const engine = await openEngine();
  try {
    const checked: Record<string, CheckedDate> = {};
    const loadSilver = await silverLoader(engine, context, dates);
    for (const date of dates) {
      const layout = pipelineLayout(run.pipeline, params.pipeline, date);
      await loadSilver(date);
      const report = await checkExpectations(engine, params.pipeline.dataset, params.dataset.expectations, { dataset: params.pipeline.dataset, logicalDate: date });
      await lake.put(layout.quality, `${JSON.stringify(report, null, 2)}\n`);
      await store.recordQualityResults(run.id, params.pipeline.dataset, date, report.results);
      assertQualityGate(report, layout.quality);
      checked[date] = {
        passed: report.passed,
        failed_warnings: report.results.filter((result) => !result.passed).map((result) => `${result.expectation} (observed ${result.observed})`),
        report: layout.quality,
      };
    }
    return { dates: checked };
  } finally {
    await engine.close();
  }
}

/** Aggregate: each SQL step over the date's silver table, written to `gold/<step>/date=D/`. */
export async function aggregateDates(context: StepContext, dates: string[]): Promise<PerDate<AggregatedDate>> {
  const { lake, run, params } = context;
  const engine = await openEngine();
  try {
    const aggregated: Record<string, AggregatedDate> = {};
    const loadSilver = await silverLoader(engine, context, dates);
    for (const date of dates) {
      const layout = pipelineLayout(run.pipeline, params.pipeline, date);
      await loadSilver(date);
      const written: AggregatedDate = [];
      for (const step of params.pipeline.aggregate) {
        try {
          await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(step.name)} AS ${step.sql}`);
        } catch (error) {
          throw new InputError(`aggregate step ${step.name}: ${oneLine(error)}`, { cause: error });
        }
        const [{ rows }] = await engine.rows<{ rows: number }>(`SELECT count(*) AS rows FROM ${sqlIdentifier(step.name)}`);
        // Sorted, so that a rerun writes the same bytes whatever order parallel GROUP BY produced.
        await engine.exportQuery(`SELECT * FROM ${sqlIdentifier(step.name)} ORDER BY ALL`, lake, layout.aggregate(step.name), 'parquet');
        written.push({ name: step.name, rows: Number(rows), key: layout.aggregate(step.name) });
      }
      aggregated[date] = written;
    }
    return { dates: aggregated };
  } finally {
    await engine.close();
  }
}
