import { hostname } from 'node:os';
import { InputError, NotFoundError, QualityGateError, oneLine } from '../errors.js';
import type { Lake } from '../lake/index.js';
import type { Logger, Metrics } from '../observability/index.js';
import type { JobContext, JobHandler, JobQueue, JobResult } from '../queue/index.js';
import { withRetries, RetriesExhaustedError } from '../retry.js';
import { WebhookSink, type RunAlert } from '../sinks/index.js';
import type { RunRecord, StepRecord, Store } from '../store/index.js';
import { partitionLabel, STEP_JOB, StepJobSchema, stepJobId, type StepJob, type StepKind } from './contract.js';
import { paramsOf, type CleanedDate, type StepContext } from './context.js';
import { handlerOf, STEP_ORDER } from './plan.js';
import { cleanStep } from './steps/clean.js';
import { publishStep, readSummary, type RunSummary } from './steps/publish.js';
import { outputOf, partitionOf, upstreamOf } from './steps/upstream.js';

/** What executing step jobs needs, on the coordinating process and on every worker. */
export interface StepServices {
  lake: Lake;
  store: Store;
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
}

export interface RunResult {
  run: RunRecord;
  steps: StepRecord[];
  summaries: RunSummary[];
}

/** This process, as step records name it. */
const WORKER = `${hostname()}:${process.pid}`;

/** Rows read and quarantined over cleaned dates (none yet: no counts). */
function rowCounts(cleaned: CleanedDate[]): { rowsRead?: number; rowsQuarantined?: number } {
  if (cleaned.length === 0) return {};
  return {
    rowsRead: cleaned.reduce((sum, date) => sum + date.rows_read, 0),
    rowsQuarantined: cleaned.reduce((sum, date) => sum + date.rows_quarantined, 0),
  };
}

/**
 * The queue handler of step jobs: runs one step partition with the pipeline's retries, backoff
 * and timeout, recording its state, attempts and output in the run store. Registered by workers
 * (`detour worker`) and, in embedded mode, by the process that starts the run.
 */
export function stepJobHandler(services: StepServices): JobHandler {
  return async (jobContext: JobContext) => {
    const job = StepJobSchema.parse(jobContext.data);
    const { runId, step } = job;
    const handler = handlerOf(step);
    const partition = handler.partition.parse(job.partition);
    const label = partitionLabel(partition);
    const run = await services.store.getRun(runId);
    const params = paramsOf(run);
    const context: StepContext = { lake: services.lake, store: services.store, run, params };
    const logger = services.logger?.child({ runId, step, partition: label, pipeline: run.pipeline });
    const retry = { ...params.pipeline.retry, ...params.pipeline.retry.steps[step] };
    // A step override may set a max delay below the pipeline's initial delay: the larger caps.
    const maxDelayMs = Math.max(retry.initialDelayMs, retry.maxDelayMs);
    const started = performance.now();
    logger?.info('step started');
    try {
      const { value: output, attempts } = await withRetries(
        async (attempt) => {
          await services.store.updateStep(runId, step, label, { status: 'running', attempts: attempt, worker: WORKER });
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
      await services.store.updateStep(runId, step, label, { status: 'failed', error: oneLine(cause) });
      logger?.error({ error: oneLine(cause) }, 'step failed');
      throw cause;
    }
  };
}

/** Rebuilds a job's error as the type it was thrown as, so the CLI maps it to the right exit code. */
function errorOf(result: Extract<JobResult, { status: 'failed' }>): Error {
  const { name, message } = result.error;
  if (name === 'QualityGateError') return new QualityGateError(message);
  if (name === 'NotFoundError') return new NotFoundError(message);
  if (name === 'InputError') return new InputError(message);
  return new Error(message);
}

/**
 * Executes a run's step graph through the queue, one position at a time (the partitions of a
 * step run in parallel, on as many workers as there are). Steps already succeeded are not run
 * again, which is what makes resume cheap. The first failed step fails the run with its error.
 */
export async function executeRun(services: RunServices, runId: string): Promise<RunResult> {
  const { store, queue } = services;
  const run = await store.getRun(runId);
  const params = paramsOf(run);
  try {
    for (const step of STEP_ORDER) {
      const records = (await store.listSteps(runId)).filter((record) => record.step === step);
      for (const record of records.filter((record) => record.status === 'skipped')) services.onStep?.({ runId, step, partition: record.partition, status: 'skipped' });
      const pending = records.filter((record) => record.status !== 'succeeded' && record.status !== 'skipped');
      if (pending.length === 0) continue;
      const handler = handlerOf(step);
      const jobs = pending.map((record): StepJob => ({ runId, step, partition: partitionOf(handler, record) }));
      const labelOf = new Map(jobs.map((job) => [stepJobId(job), partitionLabel(job.partition)]));
      for (const record of pending) services.onStep?.({ runId, step, partition: record.partition, status: 'queued' });
      const results = await queue.run(
        jobs.map((job) => ({ id: stepJobId(job), name: STEP_JOB, data: job })),
        {
          onSettled: (result) => {
            const partition = labelOf.get(result.id) as string;
            services.onStep?.(
              result.status === 'completed'
                ? { runId, step, partition, status: 'succeeded' }
                : { runId, step, partition, status: 'failed', error: result.error.message },
            );
          },
        },
      );
      const failed = results.find((result): result is Extract<JobResult, { status: 'failed' }> => result.status === 'failed');
      if (failed) throw errorOf(failed);
    }
    const steps = await store.listSteps(runId);
    const publishRecord = steps.find((record) => record.step === 'publish');
    if (publishRecord === undefined && params.training !== undefined) {
      // A training run: its steps registered the models; there is nothing to publish.
      const finished = await store.finishRun(runId, { status: 'succeeded' });
      services.metrics?.runsTotal.inc({ pipeline: run.pipeline, status: 'succeeded' });
      return { run: finished, steps, summaries: [] };
    }
    if (publishRecord === undefined) throw new Error(`run ${runId} has no publish step`);
    const publish = outputOf(publishStep, publishRecord);
    const anomalies = Object.values(publish.dates).reduce((sum, date) => sum + date.anomalies, 0);
    const finished = await store.finishRun(runId, { status: 'succeeded', ...rowCounts(Object.values(upstreamOf(steps).clean.dates)), outliers: anomalies });
    services.metrics?.runsTotal.inc({ pipeline: run.pipeline, status: 'succeeded' });
    const summaries: RunSummary[] = [];
    for (const date of Object.keys(publish.dates).sort()) summaries.push(await readSummary(services.lake, publish.dates[date].summary));
    const { webhook, anomalyThreshold } = params.pipeline.publish;
    if (webhook && anomalyThreshold !== undefined && anomalies > anomalyThreshold) {
      await sendAlert(services, webhook, { kind: 'anomaly_threshold', pipeline: run.pipeline, runId, logicalDate: describeDates(run), anomalies, threshold: anomalyThreshold });
    }
    return { run: finished, steps, summaries };
  } catch (error) {
    const stored = await store.getRun(runId);
    if (stored.status === 'running') {
      await store.finishRun(runId, { status: 'failed', ...rowCounts(Object.values(upstreamOf(await store.listSteps(runId)).clean.dates)), error: oneLine(error) });
      services.metrics?.runsTotal.inc({ pipeline: run.pipeline, status: 'failed' });
      if (params.pipeline.publish.webhook) {
        await sendAlert(services, params.pipeline.publish.webhook, { kind: 'run_failed', pipeline: run.pipeline, runId, logicalDate: describeDates(run), error: oneLine(error) });
      }
    }
    throw error;
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
