import type { TablePipelineConfig } from '../../config/index.js';
import { dateRange } from '../../dates.js';
import type { DateSpan } from '../contract.js';
import { z } from 'zod';

/** Consecutive spans of at most `pipeline.chunkDays` dates: the partitions of the per-date steps. */
export function planDateSpans(pipeline: TablePipelineConfig, dates: readonly string[]): DateSpan[] {
  const spans: DateSpan[] = [];
  for (let start = 0; start < dates.length; start += pipeline.chunkDays) {
    const chunk = dates.slice(start, start + pipeline.chunkDays);
    spans.push({ kind: 'dates', from: chunk[0], to: chunk[chunk.length - 1] });
  }
  return spans;
}

/** The dates a span covers. */
export function datesOf(span: DateSpan): string[] {
  return dateRange(span.from, span.to);
}

/** Schema of a per-date output: `{ dates: { "2024-01-01": ... } }`. */
export function perDateSchema<T>(value: z.ZodType<T>): z.ZodType<{ dates: Record<string, T> }> {
  return z.object({ dates: z.record(z.string(), value) });
}
