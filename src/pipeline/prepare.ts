import type { DatasetConfig } from '../config/index.js';
import { openEngine, readInputTable, sqlIdentifier, sqlString, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import type { LakeObject } from '../lake/index.js';
import { assertQualityGate, checkExpectations, validateRows, type RowRules } from '../quality/index.js';
import type { AggregatedDate, CheckedDate, CleanedDate, PerDate, StepContext } from './context.js';
import { fingerprintInputs, listInput, writeQuarantine } from './inputs.js';
import { pipelineLayout } from './layout.js';

/** The clean, quality and aggregate steps: one date chunk each, reading and writing the lake. */

const SQL_TYPES = { string: 'VARCHAR', number: 'DOUBLE', timestamp: 'TIMESTAMP' } as const;

/** Row rules from a dataset's typed schema, on raw column names, for the columns the input has. */
function rowRulesOf(dataset: DatasetConfig, present: Set<string>): RowRules {
  const raw = (name: string) => dataset.columns[name].from ?? name;
  const columns = Object.entries(dataset.columns).filter(([name]) => present.has(raw(name)));
  return {
    idColumn: dataset.key === undefined ? undefined : raw(dataset.key),
    requiredColumns: columns.filter(([, column]) => column.type === 'string' && column.required).map(([name]) => raw(name)),
    optionalColumns: columns.filter(([, column]) => !column.required).map(([name]) => raw(name)),
    numericColumns: columns.filter(([, column]) => column.type === 'number').map(([name, column]) => ({ name: raw(name), min: column.min })),
    timestampColumns: columns.filter(([, column]) => column.type === 'timestamp').map(([name]) => raw(name)),
    orderedTimestamps: columns
      .filter(([, column]) => column.notBefore !== undefined && present.has(raw(column.notBefore)))
      .map(([name, column]) => [raw(column.notBefore as string), raw(name)] as const),
  };
}

/**
 * Clean: every date's bronze files are read and validated in one pass (rows keep their
 * partition); per date, rejects go to quarantine with their reasons and the typed, renamed rows to
 * silver Parquet. A date with no input or no valid row fails the step.
 */
export async function cleanDates(context: StepContext, dates: string[]): Promise<PerDate<CleanedDate>> {
  const { lake, run, params } = context;
  const { pipeline, dataset } = params;
  const engine = await openEngine();
  try {
    const inputs = new Map<string, { objects: LakeObject[]; fingerprint: CleanedDate['input'] }>();
    for (const date of dates) {
      const objects = await listInput(lake, pipelineLayout(run.pipeline, pipeline, date).input, pipeline.dataset);
      inputs.set(date, { objects, fingerprint: await fingerprintInputs(engine, lake, objects) });
    }
    const raw = (name: string) => dataset.columns[name].from ?? name;
    const input = await readInputTable(engine, lake, [...inputs.values()].flatMap((entry) => entry.objects), {
      table: 'raw',
      format: dataset.format,
      requiredColumns: Object.entries(dataset.columns).filter(([, column]) => column.required).map(([name]) => raw(name)),
    });
    const present = new Set(await engine.columnNames(input.table));
    const validation = await validateRows(engine, input, rowRulesOf(dataset, present));
    // Schema columns only, under their own names; an optional column the input lacks is all NULL.
    const select = Object.entries(dataset.columns).map(([name, column]) =>
      present.has(raw(name)) ? `${sqlIdentifier(raw(name))} AS ${sqlIdentifier(name)}` : `CAST(NULL AS ${SQL_TYPES[column.type]}) AS ${sqlIdentifier(name)}`,
    );
    const cleaned: Record<string, CleanedDate> = {};
    for (const date of dates) {
      const layout = pipelineLayout(run.pipeline, pipeline, date);
      const counts = validation.partitions[layout.input] ?? { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {}, validRowIds: null };
      const quarantine = await writeQuarantine(engine, lake, validation, layout.input, layout.quarantine);
      if (counts.rowsValid === 0) {
        throw new InputError(`all ${counts.rowsRead} rows of ${layout.input} were quarantined (${Object.keys(counts.reasonCounts).slice(0, 3).join(', ')}); see ${layout.quarantine}`);
      }
      // A partition's valid rows are contiguous: a rowid range prunes far better than a string filter.
      const [first, last] = counts.validRowIds ?? [0, -1];
      await engine.exportQuery(`SELECT ${select.join(', ')} FROM ${sqlIdentifier(validation.validTable)} WHERE rowid BETWEEN ${first} AND ${last}`, lake, layout.silver, 'parquet');
      cleaned[date] = {
        rows_read: counts.rowsRead,
        rows_valid: counts.rowsValid,
        rows_quarantined: counts.rowsQuarantined,
        quarantine_reasons: counts.reasonCounts,
        quarantine,
        silver: layout.silver,
        input: (inputs.get(date) as { fingerprint: CleanedDate['input'] }).fingerprint,
      };
    }
    return { dates: cleaned };
  } finally {
    await engine.close();
  }
}

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
    await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(params.pipeline.dataset)} AS SELECT * FROM read_parquet(${sqlString(pathOf.get(date) as string)})`);
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
