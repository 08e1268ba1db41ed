import { z } from 'zod';
import { assertQualityGate, checkExpectations, type QualityReport } from '../../quality/index.js';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import type { CheckedDate, PerDate } from '../context.js';
import { pipelineLayout } from '../layout.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';
import { withSilverRows } from './silver.js';

export const CheckedDateSchema: z.ZodType<CheckedDate> = z.object({ passed: z.boolean(), failed_warnings: z.array(z.string()), report: z.string() });

/**
 * Quality: the expectations of every date of the span, checked together over the span's silver
 * files. Date by date, the report goes to the lake and the run store whatever the outcome, and the
 * first date failing a `fail` expectation stops the run (QualityGateError) before publishing: the
 * dates after it are neither reported nor stored, as when dates were checked one at a time.
 */
export const qualityStep: StepHandler<DateSpan, PerDate<CheckedDate>> = {
  kind: 'quality',
  // A span's silver is all it reads: it follows the span's clean (quality) or quality (aggregate).
  chained: true,
  partition: DateSpanSchema,
  output: perDateSchema(CheckedDateSchema),
  plan: planDateSpans,
  run: (context, span) =>
    withSilverRows(context, datesOf(span), async (engine, rows) => {
      const { lake, store, run, params } = context;
      const { dataset } = params.pipeline;
      const reports = await checkExpectations(engine, rows, params.dataset.expectations, { dataset, logicalDates: datesOf(span) });
      const gateFailed = reports.findIndex((report) => !report.passed);
      const reported = gateFailed < 0 ? reports : reports.slice(0, gateFailed + 1);
      const keyOf = (report: QualityReport) => pipelineLayout(run.pipeline, params.pipeline, report.logicalDate).quality;
      await Promise.all(reported.map((report) => lake.put(keyOf(report), `${JSON.stringify(report, null, 2)}\n`)));
      await store.recordQualityResults(run.id, dataset, reported.map((report) => ({ logicalDate: report.logicalDate, results: report.results })));
      const checked: Record<string, CheckedDate> = {};
      for (const report of reported) {
        assertQualityGate(report, keyOf(report));
        checked[report.logicalDate] = {
          passed: report.passed,
          failed_warnings: report.results.filter((result) => !result.passed).map((result) => `${result.expectation} (observed ${result.observed})`),
          report: keyOf(report),
        };
      }
      return { dates: checked };
    }),
};
