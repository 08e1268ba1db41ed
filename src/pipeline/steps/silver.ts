import { openEngine, openSqlSandbox, sqlIdentifier, type Engine, type SqlSandbox } from '../../engine/index.js';
import type { DatedRows } from '../../quality/index.js';
import type { StepContext } from '../context.js';
import { pipelineLayout } from '../layout.js';

/** Makes one date's silver file the dataset's table. */
export type ShowDate = (date: string) => Promise<void>;

/** The silver keys of `dates`, in order. */
function silverKeys({ run, params }: StepContext, dates: readonly string[]): string[] {
  return dates.map((date) => pipelineLayout(run.pipeline, params.pipeline, date).silver);
}

/**
 * `showDate` over staged silver files: the dataset's table is a view, named like the dataset, as
 * config SQL expects. A view over the Parquet file is cheaper than a copy at a
 * day's size; the file is bound through a variable because views cannot take parameters.
 */
function silverView(sql: Pick<Engine, 'run'>, context: StepContext, dates: readonly string[], paths: readonly string[]): ShowDate {
  const pathOf = new Map(dates.map((date, i) => [date, paths[i]]));
  let viewCreated = false;
  return async (date) => {
    await sql.run(`SET VARIABLE silver_file = $1`, [pathOf.get(date) as string]);
    // The view binds its file when created, and again on every query, so it follows the variable.
    if (!viewCreated) await sql.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(context.params.pipeline.dataset)} AS SELECT * FROM read_parquet(getvariable('silver_file'))`);
    viewCreated = true;
  };
}

/**
 * Opens an engine in which the silver files of `dates` are one scan, each row knowing its date
 * (the file's index) and its place in its file; runs `work` and closes it. For detour's own SQL
 * only. The file list is a variable because a FROM item cannot take parameters.
 */
export async function withSilverRows<T>(context: StepContext, dates: readonly string[], work: (engine: Engine, rows: DatedRows) => Promise<T>): Promise<T> {
  const engine = await openEngine();
  try {
    await engine.run(`SET VARIABLE silver_files = $1`, [await engine.stage(context.lake, silverKeys(context, dates))]);
    return await work(engine, { from: `read_parquet(getvariable('silver_files'), file_row_number = true)`, dateIndexSql: 'file_index', rowOrderSql: 'file_row_number' });
  } finally {
    await engine.close();
  }
}

/**
 * Opens a SQL sandbox for config SQL that can read the silver files of `dates` and nothing else;
 * `showDate(date)` makes one date's file the dataset's table. Runs `work` and closes it.
 */
export async function withSilverSandbox<T>(context: StepContext, dates: readonly string[], work: (sandbox: SqlSandbox, showDate: ShowDate) => Promise<T>): Promise<T> {
  const sandbox = await openSqlSandbox(context.lake, silverKeys(context, dates));
  try {
    return await work(sandbox, silverView(sandbox, context, dates, sandbox.inputPaths));
  } finally {
    await sandbox.close();
  }
}
