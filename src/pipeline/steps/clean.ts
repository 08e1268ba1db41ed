import { z } from 'zod';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import type { CleanedDate, PerDate } from '../context.js';
import { cleanDates } from '../prepare.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';

// Key order as the step writes it: summaries copy these objects into JSON.
export const InputFingerprintSchema: z.ZodType<CleanedDate['input']> = z.object({
  files: z.array(z.object({ key: z.string(), size: z.number(), sha256: z.string() })),
  sha256: z.string(),
});

export const CleanedDateSchema: z.ZodType<CleanedDate> = z.object({
  rows_read: z.number(),
  rows_valid: z.number(),
  rows_quarantined: z.number(),
  quarantine_reasons: z.record(z.string(), z.number()),
  quarantine: z.string().nullable(),
  silver: z.string(),
  input: InputFingerprintSchema,
});

/** Clean: a span of dates' bronze files → typed silver and quarantine (see cleanDates). */
export const cleanStep: StepHandler<DateSpan, PerDate<CleanedDate>> = {
  kind: 'clean',
  partition: DateSpanSchema,
  output: perDateSchema(CleanedDateSchema),
  plan: planDateSpans,
  run: (context, span) => cleanDates(context, datesOf(span)),
};
