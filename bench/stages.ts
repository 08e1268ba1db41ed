/** How a run's time splits over its step kinds, for the JSON lines of the pipeline benches. */
import type { StepRecord } from '../src/store/index.js';

const rounded = (seconds: number, digits: number) => Number(seconds.toFixed(digits));

/**
 * Seconds per step kind: `stage_seconds` summed over the kind's partitions (which overlap when
 * they run in parallel), and, for one run, `stage_wall_seconds` from the kind's first start to its
 * last finish (a span's quality and aggregate start while later spans are still being cleaned, so
 * these overlap and may add up to more than the run's time).
 */
export function stageTimes(runs: readonly (readonly StepRecord[])[], digits: number): { stage_seconds: Record<string, number>; stage_wall_seconds?: Record<string, number> } {
  const summed: Record<string, number> = {};
  for (const step of runs.flat()) summed[step.step] = (summed[step.step] ?? 0) + (step.seconds ?? 0);
  const stage_seconds = Object.fromEntries(Object.entries(summed).map(([step, seconds]) => [step, rounded(seconds, digits)]));
  if (runs.length !== 1) return { stage_seconds };
  const spans = new Map<string, { first: number; last: number }>();
  for (const step of runs[0]) {
    if (step.startedAt === null || step.finishedAt === null) continue;
    const span = spans.get(step.step);
    const [started, finished] = [step.startedAt.getTime(), step.finishedAt.getTime()];
    spans.set(step.step, span === undefined ? { first: started, last: finished } : { first: Math.min(span.first, started), last: Math.max(span.last, finished) });
  }
  return { stage_seconds, stage_wall_seconds: Object.fromEntries([...spans].map(([step, { first, last }]) => [step, rounded((last - first) / 1000, digits)])) };
}
