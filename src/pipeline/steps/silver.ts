import { openEngine, sqlIdentifier, type Engine } from '../../engine/index.js';
import type { StepContext } from '../context.js';
import { pipelineLayout } from '../layout.js';

/**
 * Opens an engine in which `showDate(date)` makes one date's silver file the dataset's table (a
 * view, named like the dataset, as config SQL and expectations expect), runs `work` and closes it.
 * A view over the Parquet file is cheaper than a copy at a day's size; the file is bound through
 * a variable because views cannot take parameters.
 */
export async function withSilverDates<T>(context: StepContext, dates: readonly string[], work: (engine: Engine, showDate: (date: string) => Promise<void>) => Promise<T>): Promise<T> {
  const { lake, run, params } = context;
  const engine = await openEngine();
  try {
    const paths = await engine.stage(lake, dates.map((date) => pipelineLayout(run.pipeline, params.pipeline, date).silver));
    const pathOf = new Map(dates.map((date, i) => [date, paths[i]]));
    let viewCreated = false;
    return await work(engine, async (date) => {
      await engine.run(`SET VARIABLE silver_file = $1`, [pathOf.get(date) as string]);
      // The view binds its file when created, and again on every query, so it follows the variable.
      if (!viewCreated) await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(params.pipeline.dataset)} AS SELECT * FROM read_parquet(getvariable('silver_file'))`);
      viewCreated = true;
    });
  } finally {
    await engine.close();
  }
}
