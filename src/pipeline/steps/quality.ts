import { z } from 'zod';
import { assertQualityGate, checkExpectations } from '../../quality/index.js';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import type { CheckedDate, PerDate } from '../context.js';
import { pipelineLayout } from '../layout.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';
import { withSilverDates } from './silver.js';

export const CheckedDateSchema: z.ZodType<CheckedDate> = z.object({ passed: z.boolean(), failed_warnings: z.array(z.string()), report: z.string() });

/**
 * Quality: each date's expectations; the report goes to the lake and the run store whatever the
 * outcome, then a failed `fail` expectation stops the run (QualityGateError) before publishing.
 */
export const qualityStep: StepHandler<DateSpan, PerDate<CheckedDate>> = {
  kind: 'quality',
  partition: DateSpanSchema,
  output: perDateSchema(CheckedDateSchema),
  plan: planDateSpans,
  run: (context, span) =>
    withSilverDates(context, datesOf(span), async (engine, showDate) => {
      const { lake, store, run, params } = context;
      const checked: Record<string, CheckedDate> = {};
      for (const date of datesOf(span)) {
        const layout = pipelineLayout(run.pipeline, params.pipeline, date);
        await showDate(date);
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
    }),
};
