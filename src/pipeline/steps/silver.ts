import type { JoinConfig } from '../../config/index.js';
import { addDays, dateRange } from '../../dates.js';
import { openEngine, openSqlSandbox, sqlIdentifier, type Engine, type SqlSandbox } from '../../engine/index.js';
import { NotFoundError } from '../../errors.js';
import { silverKey } from '../../lake/index.js';
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

/** The dates of a joined dataset that `from`..`to` of the pipeline read: the span widened by the join's window. */
function joinedDates(join: JoinConfig, from: string, to: string): string[] {
  return dateRange(addDays(from, -join.window.before), addDays(to, join.window.after));
}

/**
 * The silver keys the joins read over `dates`, join by join in date order, checked to exist: a date of the
 * joined dataset that was never cleaned is a NotFoundError naming the dataset and the date, never
 * a join that silently finds no rows.
 */
async function joinedKeys({ lake, params }: StepContext, dates: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const join of params.pipeline.join) {
    for (const date of joinedDates(join, dates[0], dates[dates.length - 1])) {
      const key = silverKey(join.dataset, date);
      if (!(await lake.exists(key))) throw new NotFoundError(`join ${join.dataset}: ${join.dataset} has no cleaned partition for ${date} (${key} is missing in ${lake.url}); land and clean ${join.dataset} for ${date} first`);
      keys.push(key);
    }
  }
  return keys;
}

/**
 * Opens a SQL sandbox for config SQL that can read the silver files of `dates`, and those of the
 * pipeline's joins around them, and nothing else; `showDate(date)` makes one date's file the
 * dataset's table, and each joined dataset's window around the date its table (a view named like
 * it, over a variable like the dataset's own). Runs `work` and closes it.
 */
export async function withSilverSandbox<T>(context: StepContext, dates: readonly string[], work: (sandbox: SqlSandbox, showDate: ShowDate) => Promise<T>): Promise<T> {
  const { join } = context.params.pipeline;
  const ownKeys = silverKeys(context, dates);
  const allKeys = [...ownKeys, ...(await joinedKeys(context, dates))];
  const sandbox = await openSqlSandbox(context.lake, allKeys);
  try {
    const pathOf = new Map(allKeys.map((key, index) => [key, sandbox.inputPaths[index]]));
    const showOwnDate = silverView(sandbox, context, dates, sandbox.inputPaths.slice(0, ownKeys.length));
    let joinViewsCreated = false;
    return await work(sandbox, async (date) => {
      await showOwnDate(date);
      for (const [index, { dataset }] of join.entries()) {
        const variable = `joined_files_${index}`;
        await sandbox.run(`SET VARIABLE ${variable} = $1`, [joinedDates(join[index], date, date).map((day) => pathOf.get(silverKey(dataset, day)) as string)]);
        if (!joinViewsCreated) await sandbox.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(dataset)} AS SELECT * FROM read_parquet(getvariable('${variable}'))`);
      }
      joinViewsCreated = true;
    });
  } finally {
    await sandbox.close();
  }
}
