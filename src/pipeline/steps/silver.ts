import { openEngine, openSqlSandbox, sqlIdentifier, type Engine, type SqlSandbox } from '../../engine/index.js';
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
 * config SQL and expectations expect. A view over the Parquet file is cheaper than a copy at a
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

/** Opens an engine in which `showDate(date)` makes one date's silver file the dataset's table, runs `work` and closes it. For detour's own SQL only. */
export async function withSilverDates<T>(context: StepContext, dates: readonly string[], work: (engine: Engine, showDate: ShowDate) => Promise<T>): Promise<T> {
  const engine = await openEngine();
  try {
    const paths = await engine.stage(context.lake, silverKeys(context, dates));
    return await work(engine, silverView(engine, context, dates, paths));
  } finally {
    await engine.close();
  }
}

/**
 * Like {@link withSilverDates} for config SQL: one SQL sandbox for all `dates`, which can read
 * their silver files and nothing else.
 */
export async function withSilverSandbox<T>(context: StepContext, dates: readonly string[], work: (sandbox: SqlSandbox, showDate: ShowDate) => Promise<T>): Promise<T> {
  const sandbox = await openSqlSandbox(context.lake, silverKeys(context, dates));
  try {
    return await work(sandbox, silverView(sandbox, context, dates, sandbox.inputPaths));
  } finally {
    await sandbox.close();
  }
}
