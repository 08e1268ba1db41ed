import type { DetourConfig } from '../config/index.js';
import { InputError, UnavailableError, oneLine } from '../errors.js';
import { dateRange } from '../dates.js';
import { openEngine } from '../engine/index.js';
import type { RunRecord, StepRecord } from '../store/index.js';
import { DETOUR_VERSION } from '../version.js';
import { paramsOf, type InputFile, type RunParams } from './context.js';
import { forEachAtOnce } from './at-once.js';
import { executeRun, type RunResult, type RunServices } from './executor.js';
import { leaseOf } from './heartbeat.js';
import { upstreamOf } from './steps/upstream.js';
import { fingerprintInputs, inputObjects } from './inputs.js';
import { pipelineLayout } from './layout.js';
import { resolvePredictionModel, resolveModelVersions } from './models.js';
import { planRun } from './plan.js';

/** The params a new run of `pipelineName` records: the pipeline and dataset as configured now. */
export function runParamsOf(config: DetourConfig, pipelineName: string): RunParams {
  const pipeline = config.pipelines[pipelineName];
  if (pipeline === undefined) throw new InputError(`unknown pipeline "${pipelineName}" (available: ${Object.keys(config.pipelines).join(', ')})`);
  return { pipeline, dataset: config.datasets[pipeline.dataset], detour_version: DETOUR_VERSION };
}

/** A run recorded with its step graph and executing: `finished` settles when it ends. */
export interface SubmittedRun {
  run: RunRecord;
  finished: Promise<RunResult>;
}

/**
 * Records a run over `dates` (consecutive, ascending) with its step graph, then executes it. The
 * model versions its detect and predict steps score with are fixed now, unless `params` has them
 * already (a rerun scores with the versions of the run it reruns).
 */
export async function startRun(services: RunServices, pipelineName: string, params: RunParams, dates: string[]): Promise<RunResult> {
  return (await submitRun(services, pipelineName, params, dates)).finished;
}

/**
 * {@link startRun} that returns as soon as the run is recorded and planned, for callers that answer
 * before it ends (the HTTP API). Its `finished` must be awaited or caught.
 */
export async function submitRun(services: RunServices, pipelineName: string, params: RunParams, dates: string[]): Promise<SubmittedRun> {
  if (dates.length === 0) throw new InputError('a run needs at least one date');
  if (params.training === undefined && params.models === undefined) {
    const models = await resolveModelVersions(services.store, params.pipeline);
    if (models !== undefined) params = { ...params, models };
  }
  if (params.training === undefined && params.prediction === undefined) {
    const prediction = await resolvePredictionModel(services.store, params.pipeline);
    if (prediction !== undefined) params = { ...params, prediction };
  }
  const run = await services.store.startRun({
    pipeline: pipelineName,
    logicalDate: dates[0],
    endDate: dates[dates.length - 1],
    params: params as unknown as Record<string, unknown>,
    lease: leaseOf(services.liveness),
  });
  await services.store.planSteps(run.id, planRun(params.pipeline, dates, params.training));
  return { run, finished: executeRun(services, run.id) };
}

/**
 * Re-runs a failed run from its failed step: the outputs of the steps that succeeded are reused.
 * A run whose coordinator died is failed once its lease expires, and can then be resumed.
 */
export async function resumeRun(services: RunServices, idOrPrefix: string): Promise<RunResult> {
  return (await submitResume(services, idOrPrefix)).finished;
}

/** {@link resumeRun} that returns once the run is reopened (InputError unless it failed). */
export async function submitResume(services: RunServices, idOrPrefix: string): Promise<SubmittedRun> {
  const run = await services.store.getRun(idOrPrefix);
  const reopened = await services.store.reopenRun(run.id, leaseOf(services.liveness));
  return { run: reopened, finished: executeRun(services, run.id) };
}

/** The files each date of a run was read from, with their sha256, as its clean step fingerprinted them (none for a training run). */
export function recordedInputs(steps: readonly StepRecord[]): Record<string, InputFile[]> {
  return Object.fromEntries(Object.entries(upstreamOf(steps).clean.dates).map(([date, cleaned]) => [date, cleaned.input.files]));
}

/** An input file of a recorded run that is no longer as it was. */
export interface ChangedInput {
  key: string;
  change: 'modified' | 'removed' | 'added';
}

/** Compares the inputs a run's clean step fingerprinted with what the lake holds now. */
export async function changedInputs(services: RunServices, runId: string): Promise<{ recorded: boolean; changes: ChangedInput[] }> {
  const run = await services.store.getRun(runId);
  const params = paramsOf(run);
  const cleaned = upstreamOf(await services.store.listSteps(run.id)).clean.dates;
  const dates = dateRange(run.logicalDate, run.endDate);
  if (dates.some((date) => cleaned[date] === undefined)) return { recorded: false, changes: [] };
  const changes: ChangedInput[] = [];
  const engine = await openEngine();
  try {
    for (const date of dates) {
      const before = new Map(cleaned[date].input.files.map((file) => [file.key, file.sha256]));
      const now = await fingerprintInputs(engine, services.lake, await inputObjects(services.lake, pipelineLayout(run.pipeline, params.pipeline, date).input));
      for (const file of now.files) {
        const sha = before.get(file.key);
        if (sha === undefined) changes.push({ key: file.key, change: 'added' });
        else if (sha !== file.sha256) changes.push({ key: file.key, change: 'modified' });
        before.delete(file.key);
      }
      for (const key of before.keys()) changes.push({ key, change: 'removed' });
    }
  } finally {
    await engine.close();
  }
  return { recorded: true, changes };
}

/**
 * Re-executes a recorded run with its own parameters (pipeline, dataset, dates) against the same
 * inputs, which must not have changed since (they are fingerprinted by sha256) unless
 * `allowChangedInputs`. Outputs are then byte-identical to the original run's.
 */
export async function rerunRun(services: RunServices, idOrPrefix: string, options: { allowChangedInputs?: boolean } = {}): Promise<RunResult> {
  return (await submitRerun(services, idOrPrefix, options)).finished;
}

/** {@link rerunRun} that returns once the new run is recorded; its inputs are compared first. */
export async function submitRerun(services: RunServices, idOrPrefix: string, options: { allowChangedInputs?: boolean } = {}): Promise<SubmittedRun> {
  const original = await services.store.getRun(idOrPrefix);
  if (paramsOf(original).training !== undefined) throw new InputError(`run ${original.id} is a training run: train again with \`detour train ${original.pipeline}\` (a new run, new versions)`);
  const { recorded, changes } = await changedInputs(services, original.id);
  if (!recorded && !options.allowChangedInputs) {
    throw new InputError(`run ${original.id} never finished reading its inputs, so there is nothing to compare them with; rerun with --allow-changed-inputs to use the inputs as they are now`);
  }
  if (changes.length > 0 && !options.allowChangedInputs) {
    const listed = changes.slice(0, 5).map((change) => `${change.key} (${change.change})`).join(', ');
    throw new InputError(`inputs of run ${original.id} changed since: ${listed}${changes.length > 5 ? `, and ${changes.length - 5} more` : ''}; rerun with --allow-changed-inputs to accept them`);
  }
  const params: RunParams = { ...paramsOf(original), rerun_of: original.id };
  return submitRun(services, original.pipeline, params, dateRange(original.logicalDate, original.endDate));
}

export interface BackfillOptions {
  /** Runs at once (each a day); workers share their steps. */
  parallel?: number;
  /** Also run dates that already have a succeeded run. */
  force?: boolean;
  onDate?: (date: string, outcome: { status: 'succeeded'; run: RunResult } | { status: 'failed'; error: string } | { status: 'skipped' }) => void;
}

export interface BackfillResult {
  succeeded: RunResult[];
  failed: { date: string; error: string }[];
  skipped: string[];
}

/**
 * One run per date of [from, to], `parallel` at a time, oldest first; dates already succeeded are
 * skipped unless `force`. A failed date does not stop the others; all failures are returned. A
 * service that stays unreachable (UnavailableError) stops the backfill, since every later date
 * would wait for it in turn: no date is started after it, and it is thrown once the running ones end.
 */
export async function backfill(services: RunServices, pipelineName: string, params: RunParams, from: string, to: string, options: BackfillOptions = {}): Promise<BackfillResult> {
  const dates = dateRange(from, to);
  const done = new Set(options.force ? [] : await services.store.succeededDates(pipelineName, from, to));
  const result: BackfillResult = { succeeded: [], failed: [], skipped: dates.filter((date) => done.has(date)) };
  for (const date of result.skipped) options.onDate?.(date, { status: 'skipped' });
  const todo = dates.filter((date) => !done.has(date));
  await forEachAtOnce(todo, Math.max(1, options.parallel ?? 1), async (date) => {
    try {
      const run = await startRun(services, pipelineName, params, [date]);
      result.succeeded.push(run);
      options.onDate?.(date, { status: 'succeeded', run });
    } catch (error) {
      result.failed.push({ date, error: oneLine(error) });
      options.onDate?.(date, { status: 'failed', error: oneLine(error) });
      // Only an unreachable service stops the backfill; any other failure is this date's alone.
      if (error instanceof UnavailableError) throw error;
    }
  });
  result.succeeded.sort((a, b) => (a.run.logicalDate < b.run.logicalDate ? -1 : 1));
  result.failed.sort((a, b) => (a.date < b.date ? -1 : 1));
  return result;
}
