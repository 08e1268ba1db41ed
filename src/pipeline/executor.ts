import { inspect } from 'node:util';
import type { LivenessConfig } from '../config/index.js';
import { ERROR_LINE_MAX, InputError, NotFoundError, QualityGateError, TransientError, UnavailableError, oneLine } from '../errors.js';
import { errorTextKey, type Lake } from '../lake/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import type { JobContext, JobHandler, JobQueue, JobResult } from '../queue/index.js';
import { withRetries, RetriesExhaustedError } from '../retry.js';
import { WebhookSink, type ResultsSink, type RunAlert } from '../sinks/index.js';
import { LeaseLostError, type Lease, type RunRecord, type StepRecord, type Store } from '../store/index.js';
import { partitionLabel, STEP_JOB, StepJobSchema, stepJobId, type StepJob, type StepKind } from './contract.js';
import { paramsOf, type CleanedDate, type RunParams, type StepContext } from './context.js';
import { alarmChannelsOf, applyAlarmVerdicts } from './alarms.js';
import { leaseOf, startHeartbeat } from './heartbeat.js';
import { handlerOf, STEP_ORDER } from './plan.js';
import { publishRunFindings, publishRunState } from './publish-results.js';
import { cleanStep } from './steps/clean.js';
import { publishStep, readSummary, type RunSummary } from './steps/publish.js';
import { outputOf, partitionOf, upstreamOf } from './steps/upstream.js';

/** What executing step jobs needs, on the coordinating process and on every worker. */
export interface StepServices {
  lake: Lake;
  store: Store;
  /** Lease length and heartbeat of the runs and steps this process holds. */
  liveness: LivenessConfig;
  logger?: Logger;
  metrics?: Metrics;
}

/** A step partition changing state, for progress displays. */
export interface StepEvent {
  runId: string;
  step: StepKind;
  partition: string;
  status: 'queued' | 'succeeded' | 'failed' | 'skipped';
  error?: string;
}

export interface RunServices extends StepServices {
  queue: JobQueue;
  onStep?: (event: StepEvent) => void;
  /** Delivers an alert when a run fails or finds more anomalies than its threshold; default: POST to the pipeline's webhook. */
  alert?: (alert: RunAlert, webhook: string) => Promise<void>;
  /** The environment runs belong to, named in the results published on the bus; default `prod`. */
  env?: string;
  /** Where a pipeline with `publish.bus` publishes its results, by subject prefix; undefined: nowhere (a warning is logged). */
  resultsSink?: (subjectPrefix: string) => ResultsSink | undefined;
}

export interface RunResult {
  run: RunRecord;
  steps: StepRecord[];
  summaries: RunSummary[];
}

/** A job's result once it finished (a lost job has been settled from the run store). */
type SettledResult = Exclude<JobResult, { status: 'lost' }>;

/** How often the jobs of one step may be lost from the queue and enqueued again before the run gives up. */
const MAX_REQUEUES = 5;

/** Rows read and quarantined over cleaned dates (none yet: no counts). */
function rowCounts(cleaned: CleanedDate[]): { rowsRead?: number; rowsQuarantined?: number } {
  if (cleaned.length === 0) return {};
  return {
    rowsRead: cleaned.reduce((sum, date) => sum + date.rows_read, 0),
    rowsQuarantined: cleaned.reduce((sum, date) => sum + date.rows_quarantined, 0),
  };
}

/**
 * The error a step or run records: one printable line (see `oneLine`). When that line is not the
 * whole message (cut, control characters escaped, lines joined), the full text with its cause
 * chain is kept in the lake under the run's scratch prefix, and the line says where.
 */
async function recordedError(lake: Lake, run: RunRecord, name: string, error: unknown, logger?: Logger): Promise<string> {
  const line = oneLine(error);
  if (line === (error instanceof Error ? error.message : String(error))) return line;
  const key = errorTextKey(run.pipeline, run.id, name);
  try {
    await lake.put(key, error instanceof Error ? inspect(error) : String(error));
  } catch (lakeError) {
    // The lake may be what failed; the line is recorded all the same.
    logger?.warn({ key, error: oneLine(lakeError) }, 'full error text not kept');
    return line;
  }
  const pointer = ` (full text in the lake: ${key})`;
  return `${oneLine(error, ERROR_LINE_MAX - pointer.length)}${pointer}`;
}

/**
 * The queue handler of step jobs: runs one step partition with the pipeline's retries, backoff
 * and timeout, recording its state, attempts and output in the run store, and holding a lease on
 * it while it runs. Registered by workers (`detour worker`) and, in embedded mode, by the process
 * that starts the run. A job of a run that is no longer running (failed when its coordinator
 * died) is refused: resuming the run enqueues it again.
 */
export function stepJobHandler(services: StepServices): JobHandler {
  return async (jobContext: JobContext) => {
    const job = StepJobSchema.parse(jobContext.data);
    const { runId, step } = job;
    const handler = handlerOf(step);
    const partition = handler.partition.parse(job.partition);
    const label = partitionLabel(partition);
    const run = await services.store.getRun(runId);
    if (run.status !== 'running') throw new Error(`run ${runId} is ${run.status}: its step ${step} [${label}] is not run; \`detour runs resume ${runId}\` runs it`);
    const params = paramsOf(run);
    const logger = services.logger?.child({ runId, step, partition: label, pipeline: run.pipeline });
    const context: StepContext = { lake: services.lake, store: services.store, run, params, logger };
    const retry = { ...params.pipeline.retry, ...params.pipeline.retry.steps[step] };
    // A step override may set a max delay below the pipeline's initial delay: the larger caps.
    const maxDelayMs = Math.max(retry.initialDelayMs, retry.maxDelayMs);
    const started = performance.now();
    const lease = leaseOf(services.liveness);
    let stopHeartbeat: (() => void) | undefined;
    logger?.info('step started');
    try {
      const { value: output, attempts } = await withRetries(
        async (attempt) => {
          await services.store.updateStep(runId, step, label, { status: 'running', attempts: attempt, lease });
          stopHeartbeat ??= startHeartbeat({
            liveness: services.liveness,
            renew: () => services.store.renewStepLease(runId, step, label, lease),
            // The step cannot be stopped midway; its outputs are written to fixed keys, so finishing it does no harm.
            onLost: () => logger?.warn('step lease lost: another worker took the step over, or its run was failed'),
            onMissed: (error) => logger?.warn({ error: oneLine(error) }, 'step lease not renewed; trying again at the next heartbeat'),
          });
          return handler.run(context, partition);
        },
        { retries: retry.retries, backoff: { initialDelayMs: retry.initialDelayMs, maxDelayMs }, timeoutMs: retry.timeoutSeconds * 1000 },
        {
          onRetry: ({ attempt, error, delayMs }) => {
            services.metrics?.stepRetries.inc({ pipeline: run.pipeline, step });
            logger?.warn({ attempt, delayMs, error: oneLine(error) }, 'step failed; retrying');
          },
        },
      );
      await services.store.updateStep(runId, step, label, { status: 'succeeded', attempts, output });
      services.metrics?.stepDuration.observe({ pipeline: run.pipeline, step }, (performance.now() - started) / 1000);
      if (step === 'clean') services.metrics?.rowsProcessed.inc({ pipeline: run.pipeline, step }, rowCounts(Object.values(cleanStep.output.parse(output).dates)).rowsRead ?? 0);
      logger?.info({ seconds: (performance.now() - started) / 1000 }, 'step succeeded');
      return { status: 'succeeded' };
    } catch (error) {
      const cause = error instanceof RetriesExhaustedError ? error.cause : error;
      const recorded = await recordedError(services.lake, run, `${step}-${label}`, cause, logger);
      await services.store.updateStep(runId, step, label, { status: 'failed', error: recorded });
      logger?.error({ error: recorded }, 'step failed');
      throw cause;
    } finally {
      stopHeartbeat?.();
    }
  };
}

/**
 * A failed job's error as the type it was thrown as (the CLI maps types to exit codes), with the
 * message its step recorded (printable, pointing at the full text) when there is one.
 */
async function stepFailure(store: Store, runId: string, step: StepKind, partition: string, result: Extract<JobResult, { status: 'failed' }>): Promise<Error> {
  const record = (await store.listSteps(runId)).find((candidate) => candidate.step === step && candidate.partition === partition);
  const { name } = result.error;
  const message = record?.status === 'failed' && record.error !== null ? record.error : result.error.message;
  if (name === 'QualityGateError') return new QualityGateError(message);
  if (name === 'NotFoundError') return new NotFoundError(message);
  if (name === 'InputError') return new InputError(message);
  return new Error(message);
}

/**
 * Runs the jobs of one step through the queue until each has a result. A job the queue lost
 * (Redis restarted without its data) is looked up in the run store: done when its partition
 * succeeded, enqueued again otherwise (a step run twice writes the same keys and rows).
 */
async function runStepJobs(services: RunServices, runId: string, step: StepKind, jobs: StepJob[], onSettled: (result: SettledResult) => void): Promise<SettledResult[]> {
  const results = new Map<string, SettledResult>();
  let todo = jobs;
  for (let requeues = 0; todo.length > 0; requeues++) {
    const settled = await services.queue.run(
      todo.map((job) => ({ id: stepJobId(job), name: STEP_JOB, data: job })),
      { onSettled: (result) => result.status !== 'lost' && onSettled(result) },
    );
    const lost = todo.filter((_, index) => settled[index].status === 'lost');
    for (const result of settled) if (result.status !== 'lost') results.set(result.id, result);
    if (lost.length === 0) break;
    if (requeues === MAX_REQUEUES) throw new TransientError(`the queue lost ${step} jobs of run ${runId} ${MAX_REQUEUES + 1} times: is Redis restarting without its data?`);
    const records = await services.store.listSteps(runId);
    todo = lost.filter((job) => {
      const record = records.find((candidate) => candidate.step === step && candidate.partition === partitionLabel(job.partition));
      if (record?.status !== 'succeeded') return true;
      const done: SettledResult = { id: stepJobId(job), status: 'completed', value: null };
      results.set(done.id, done);
      onSettled(done);
      return false;
    });
    services.logger?.warn({ runId, step, lost: lost.length, enqueuedAgain: todo.length }, 'step jobs lost from the queue; enqueuing again those the run store does not have as succeeded');
  }
  return jobs.map((job) => results.get(stepJobId(job)) as SettledResult);
}

/** Why a run stops: a step job that failed, or an error running it (the queue lost it too often). */
type StepGraphFailure = { position: number; order: number } & ({ step: StepKind; partition: string; result: Extract<JobResult, { status: 'failed' }> } | { error: unknown });

/**
 * Runs `group` (partitions of `step`, at `position` in the graph, each with its order among the
 * step's) as one batch of jobs on the queue: reports the skipped ones, enqueues those neither
 * succeeded nor skipped, and notes in `failures` those that fail. `settle` is told of each
 * partition as soon as it is known to have succeeded or not.
 */
async function runPartitions(
  services: RunServices,
  runId: string,
  [position, step]: [number, StepKind],
  group: readonly { record: StepRecord; order: number }[],
  failures: StepGraphFailure[],
  settle: (partition: string, succeeded: boolean) => void,
): Promise<void> {
  const pending = group.filter(({ record }) => record.status !== 'succeeded' && record.status !== 'skipped');
  for (const { record } of group) {
    if (record.status === 'skipped') services.onStep?.({ runId, step, partition: record.partition, status: 'skipped' });
    if (record.status === 'succeeded' || record.status === 'skipped') settle(record.partition, true);
  }
  if (pending.length === 0) return;
  try {
    const handler = handlerOf(step);
    const jobs = pending.map(({ record }): StepJob => ({ runId, step, partition: partitionOf(handler, record) }));
    const partitionOfJob = new Map(jobs.map((job, index) => [stepJobId(job), pending[index].record.partition]));
    for (const { record } of pending) services.onStep?.({ runId, step, partition: record.partition, status: 'queued' });
    const results = await runStepJobs(services, runId, step, jobs, (result) => {
      const partition = partitionOfJob.get(result.id) as string;
      services.onStep?.(
        result.status === 'completed' ? { runId, step, partition, status: 'succeeded' } : { runId, step, partition, status: 'failed', error: oneLine(result.error.message) },
      );
      settle(partition, result.status === 'completed');
    });
    // Every result came through the callback above (settled there), a job found done after a loss too.
    results.forEach((result, index) => {
      const { record, order } = pending[index];
      if (result.status === 'failed') failures.push({ position, order, step, partition: record.partition, result });
    });
  } catch (error) {
    failures.push({ position, order: pending[0].order, error });
  }
}

/**
 * Runs the step partitions of `records` (a run's, as planned or left by an earlier attempt) not
 * succeeded or skipped yet. A partition starts once what it needs has succeeded: the partition of
 * the step before it with the same label when its step is `chained` (a span's quality and
 * aggregate follow its clean without waiting for other spans), every partition of the step before
 * otherwise (those then go to the queue together). After the first failure nothing more starts;
 * once what was running has finished, the failure of the earliest step (and, within it, the
 * earliest partition) is thrown.
 */
async function runStepGraph(services: RunServices, runId: string, records: readonly StepRecord[]): Promise<void> {
  const failures: StepGraphFailure[] = [];
  /** Whether each partition of the step before succeeded (by label), and whether all of them did. */
  let before: { byLabel: Map<string, Promise<boolean>>; all: Promise<boolean> } = { byLabel: new Map(), all: Promise.resolve(true) };
  const finished: Promise<void>[] = [];
  for (const [position, step] of STEP_ORDER.entries()) {
    const partitions = records.filter((record) => record.step === step).map((record, order) => ({ record, order }));
    // A step this run does not have (no predict planned) leaves the next one waiting on the one before.
    if (partitions.length === 0) continue;
    const groups = handlerOf(step).chained ? partitions.map((partition) => [partition]) : [partitions];
    const outcomes = new Map<string, Promise<boolean>>();
    for (const group of groups) {
      const settlers = new Map<string, (succeeded: boolean) => void>();
      for (const { record } of group) outcomes.set(record.partition, new Promise((resolve) => settlers.set(record.partition, resolve)));
      const needed = (group.length === 1 ? before.byLabel.get(group[0].record.partition) : undefined) ?? before.all;
      const run = async () => {
        if ((await needed) && failures.length === 0) await runPartitions(services, runId, [position, step], group, failures, (partition, succeeded) => settlers.get(partition)?.(succeeded));
        // Those not settled by now did not run (a failure stopped them); a promise settles once.
        for (const settle of settlers.values()) settle(false);
      };
      finished.push(run());
    }
    before = { byLabel: outcomes, all: Promise.all(outcomes.values()).then((ready) => ready.every(Boolean)) };
  }
  await Promise.all(finished);
  const [first] = failures.sort((a, b) => a.position - b.position || a.order - b.order);
  if (first === undefined) return;
  if ('error' in first) throw first.error;
  throw await stepFailure(services.store, runId, first.step, first.partition, first.result);
}

/**
 * Executes a run's step graph through the queue (see runStepGraph): partitions run in parallel, on
 * as many workers as there are. Steps already succeeded are not run again, which is what makes
 * resume cheap. The first failed step fails the run with its error.
 *
 * This process holds the run's lease meanwhile, renewing it every heartbeat. If it loses it (it
 * could not reach the database for longer than the lease, and another process failed the run),
 * it stops with a LeaseLostError and leaves the run to `detour runs resume`.
 */
export async function executeRun(services: RunServices, runId: string): Promise<RunResult> {
  const { store } = services;
  const run = await store.getRun(runId);
  const params = paramsOf(run);
  const lease = leaseOf(services.liveness);
  let leaseLost!: () => void;
  const lost = new Promise<never>((_, reject) => (leaseLost = () => reject(new LeaseLostError(`lost the lease on run ${runId}`))));
  lost.catch(() => {}); // observed through the race below, if at all
  const stopHeartbeat = startHeartbeat({
    liveness: services.liveness,
    renew: () => store.renewRunLease(runId, lease),
    onLost: leaseLost,
    onMissed: (error) => services.logger?.warn({ runId, error: oneLine(error) }, 'run lease not renewed; trying again at the next heartbeat'),
  });
  try {
    await publishRunState(services, run, params, 'runs.started');
    await Promise.race([runStepGraph(services, runId, await store.listSteps(runId)), lost]);
    const steps = await store.listSteps(runId);
    const publishRecord = steps.find((record) => record.step === 'publish');
    if (publishRecord === undefined && params.training !== undefined) {
      // A training run: its steps registered the models; there is nothing to publish.
      const finished = await store.finishRun(runId, { status: 'succeeded', owner: lease.owner });
      services.metrics?.runsTotal.inc({ pipeline: run.pipeline, status: 'succeeded' });
      await publishRunState(services, finished, params, 'runs.succeeded');
      return { run: finished, steps, summaries: [] };
    }
    if (publishRecord === undefined) throw new Error(`run ${runId} has no publish step`);
    const publish = outputOf(publishStep, publishRecord);
    const anomalies = Object.values(publish.dates).reduce((sum, date) => sum + date.anomalies, 0);
    const finished = await store.finishRun(runId, { status: 'succeeded', ...rowCounts(Object.values(upstreamOf(steps).clean.dates)), outliers: anomalies, owner: lease.owner });
    services.metrics?.runsTotal.inc({ pipeline: run.pipeline, status: 'succeeded' });
    await publishRunFindings(services, finished, params, Object.keys(publish.dates).sort());
    await publishRunState(services, finished, params, 'runs.succeeded', { anomalies });
    const summaries = await Promise.all(Object.keys(publish.dates).sort().map((date) => readSummary(services.lake, publish.dates[date].summary)));
    const { webhook, anomalyThreshold } = params.pipeline.publish;
    if (webhook && anomalyThreshold !== undefined && anomalies > anomalyThreshold) {
      await sendAlert(services, webhook, { kind: 'anomaly_threshold', pipeline: run.pipeline, runId, logicalDate: describeDates(run), anomalies, threshold: anomalyThreshold });
    }
    return { run: finished, steps, summaries };
  } catch (error) {
    throw await failRun(services, run, params, lease, error);
  } finally {
    stopHeartbeat();
  }
}

/**
 * Records why a run failed, if it is still this process's to record, and returns the error to
 * throw: the run's own, or one saying what to do about a lost lease or an unreachable service.
 */
async function failRun(services: RunServices, run: RunRecord, params: RunParams, lease: Lease, error: unknown): Promise<unknown> {
  const resume = `\`detour runs resume ${run.id}\``;
  const databaseGone = (unavailable: UnavailableError) =>
    new UnavailableError(unavailable.service, `${unavailable.message}; run ${run.id} fails when its lease expires, then ${resume} continues it`, { cause: unavailable });
  // Recording the failure would wait for the database again: the run's lease expires instead.
  if (error instanceof UnavailableError && error.service === 'PostgreSQL') return databaseGone(error);
  try {
    return await recordFailure(services, run, params, lease, error, resume);
  } catch (storeError) {
    if (storeError instanceof UnavailableError && storeError.service === 'PostgreSQL') return databaseGone(storeError);
    throw storeError;
  }
}

/** The part of failRun that needs the run store: finishing the run as failed, unless another process took it. */
async function recordFailure(services: RunServices, run: RunRecord, params: RunParams, lease: Lease, error: unknown, resume: string): Promise<unknown> {
  const { store } = services;
  const stored = await store.getRun(run.id);
  if (stored.status !== 'running' || stored.leaseOwner !== lease.owner) {
    return new LeaseLostError(`this process lost run ${run.id}: ${stored.error ?? `it is ${stored.status}, held by ${stored.leaseOwner}`}`, { cause: error });
  }
  const recorded = await recordedError(services.lake, run, 'run', error, services.logger);
  try {
    await store.finishRun(run.id, { status: 'failed', ...rowCounts(Object.values(upstreamOf(await store.listSteps(run.id)).clean.dates)), error: recorded, owner: lease.owner });
  } catch (finishError) {
    if (finishError instanceof LeaseLostError) return finishError;
    throw finishError;
  }
  services.metrics?.runsTotal.inc({ pipeline: run.pipeline, status: 'failed' });
  await publishRunState(services, run, params, 'runs.failed', { error: recorded });
  // A watched pipeline says it once as its run_failed alarm (which names the error), not twice.
  if (params.pipeline.monitor !== undefined) await raiseRunFailedAlarm(services, run, params, recorded);
  else if (params.pipeline.publish.webhook) {
    await sendAlert(services, params.pipeline.publish.webhook, { kind: 'run_failed', pipeline: run.pipeline, runId: run.id, logicalDate: describeDates(run), error: recorded });
  }
  if (error instanceof UnavailableError) return new UnavailableError(error.service, `${error.message}; once it is back, ${resume} continues the run`, { cause: error });
  return error;
}

/** A watched pipeline's `run_failed` alarm fires (once, until a run of it succeeds); like an alert, it never changes the run's outcome. */
async function raiseRunFailedAlarm(services: RunServices, run: RunRecord, params: RunParams, recorded: string): Promise<void> {
  try {
    await applyAlarmVerdicts(services, run.pipeline, alarmChannelsOf(params.pipeline), [{ alarm: 'run_failed', firing: true, message: `run ${run.id} of ${describeDates(run)} failed: ${recorded}` }], run.endDate);
  } catch (error) {
    services.logger?.error({ runId: run.id, error: oneLine(error) }, 'run_failed alarm not recorded');
  }
}

function describeDates(run: RunRecord): string {
  return run.endDate === run.logicalDate ? run.logicalDate : `${run.logicalDate}..${run.endDate}`;
}

/** An alert that cannot be delivered is logged, never allowed to change the run's outcome. */
async function sendAlert(services: RunServices, webhook: string, alert: RunAlert): Promise<void> {
  const deliver = services.alert ?? (async (message: RunAlert, url: string) => void (await new WebhookSink({ url }).send(message)));
  try {
    await deliver(alert, webhook);
  } catch (error) {
    services.logger?.error({ runId: alert.runId, error: oneLine(error) }, 'alert not delivered');
  }
}
