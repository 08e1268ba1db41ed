import { z } from 'zod';
import { sqlIdentifier } from '../../engine/index.js';
import { InputError, oneLine } from '../../errors.js';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import type { AggregatedDate, PerDate } from '../context.js';
import { pipelineLayout } from '../layout.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';
import { withSilverSandbox } from './silver.js';

export const AggregatedDateSchema: z.ZodType<AggregatedDate> = z.array(z.object({ name: z.string(), rows: z.number(), key: z.string() }));

/**
 * Aggregate: each SQL step over the date's silver table, written to `gold/<step>/date=D/`. Config
 * SQL runs in a sandbox (one per partition) that reads the partition's silver files and nothing
 * else; each step must be one query. Skipped when the pipeline has none.
 */
export const aggregateStep: StepHandler<DateSpan, PerDate<AggregatedDate>> = {
  kind: 'aggregate',
  // A span's silver is all it reads: it follows the span's clean (quality) or quality (aggregate).
  chained: true,
  partition: DateSpanSchema,
  output: perDateSchema(AggregatedDateSchema),
  plan: planDateSpans,
  skipped: (pipeline) => pipeline.aggregate.length === 0,
  run: (context, span) =>
    withSilverSandbox(context, datesOf(span), async (sandbox, showDate) => {
      const { lake, run, params } = context;
      const aggregated: Record<string, AggregatedDate> = {};
      for (const date of datesOf(span)) {
        const layout = pipelineLayout(run.pipeline, params.pipeline, date);
        await showDate(date);
        const written: AggregatedDate = [];
        for (const step of params.pipeline.aggregate) {
          try {
            // A table, so that later steps of the same date may read this one by name.
            await sandbox.createTableAs(step.name, step.sql);
          } catch (error) {
            throw new InputError(`aggregate step ${step.name}: ${oneLine(error)}`, { cause: error });
          }
          // Sorted, so that a rerun writes the same bytes whatever order parallel GROUP BY produced.
          const rows = await sandbox.exportQuery(`SELECT * FROM ${sqlIdentifier(step.name)} ORDER BY ALL`, lake, layout.aggregate(step.name), 'parquet');
          written.push({ name: step.name, rows, key: layout.aggregate(step.name) });
        }
        aggregated[date] = written;
      }
      return { dates: aggregated };
    }),
};
