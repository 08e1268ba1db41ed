import { InputError } from '../errors.js';

/** A job to run: `id` names it for the queue's lifetime (re-running a completed id is a no-op). */
export interface JobSpec {
  id: string;
  /** What to do, e.g. the pipeline step; the handler dispatches on it. */
  name: string;
  /** JSON-serialisable input; the handler receives a copy that went through JSON. */
  data: Record<string, unknown>;
}

/** What a handler is given: the job as enqueued. */
export interface JobContext {
  id: string;
  name: string;
  data: Record<string, unknown>;
}

/** Runs one job and returns its JSON-serialisable result; retries belong inside the handler. */
export type JobHandler = (job: JobContext) => Promise<unknown>;

/**
 * How a job ended. `error.name` is the thrown error's class name, e.g. 'InputError'. `lost`: the
 * job vanished from the queue before its result could be read (Redis restarted without its data),
 * so whether it ran, and how, is known only to what the job itself recorded elsewhere.
 */
export type JobResult =
  | { id: string; status: 'completed'; value: unknown }
  | { id: string; status: 'failed'; error: { name: string; message: string } }
  | { id: string; status: 'lost' };

/** How many jobs are in each state. */
export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
}

/** A running worker. */
export interface WorkerHandle {
  /** Stops taking jobs and resolves once the jobs it is running have finished. */
  close(): Promise<void>;
}

export interface RunOptions {
  /** Called once per job as soon as it finishes (or at once for an id already completed). */
  onSettled?: (result: JobResult) => void;
}

export interface WorkOptions {
  /** How many jobs this worker runs at once; 1 unless told. */
  concurrency?: number;
}

/**
 * A queue of named jobs, run in this process (`inline`) or by worker processes anywhere that
 * share a Redis (`bullmq`). Each job runs once: retries belong inside the handler; only a job
 * whose worker died is taken over by another worker.
 */
export interface JobQueue {
  readonly kind: 'inline' | 'bullmq';
  /**
   * Adds the jobs and resolves when every one has finished or was lost, results in the order
   * given. A job id already completed is not run again (its stored result is returned); a job id
   * that previously failed, or was lost, is run again. Never rejects because a job failed or was
   * lost (that is its result); rejects with InputError for a bad or duplicated spec, with
   * TransientError when the queue is closed before every job finished, and with UnavailableError
   * when the queue's server stays unreachable longer than the queue waits for it. An error thrown
   * by `onSettled` rejects run() after every job has finished.
   */
  run(jobs: JobSpec[], options?: RunOptions): Promise<JobResult[]>;
  /** Starts executing jobs with `handler`, at most `concurrency` at once. */
  work(handler: JobHandler, options?: WorkOptions): Promise<WorkerHandle>;
  depth(): Promise<QueueDepth>;
  /** Workers taking jobs from this queue now, in any process (for "no worker is running" hints). */
  workers(): Promise<number>;
  /** Stops this queue's workers (waiting for their running jobs) and releases its resources. */
  close(): Promise<void>;
}

/** Checks specs before anything is enqueued, so a bad batch adds nothing. */
export function assertValidSpecs(jobs: JobSpec[]): void {
  if (!Array.isArray(jobs)) throw new InputError('run() expects an array of jobs');
  const seen = new Set<string>();
  for (const job of jobs) {
    if (typeof job?.id !== 'string' || job.id === '') throw new InputError('every job needs a non-empty string id');
    if (typeof job.name !== 'string' || job.name === '') throw new InputError(`job "${job.id}" needs a non-empty name`);
    if (job.data === null || typeof job.data !== 'object' || Array.isArray(job.data)) throw new InputError(`job "${job.id}": data must be an object`);
    if (seen.has(job.id)) throw new InputError(`job id "${job.id}" appears twice in one run`);
    seen.add(job.id);
  }
}

/** The worker's concurrency, checked: a positive integer, 1 by default. */
export function concurrencyOf(options: WorkOptions | undefined): number {
  const concurrency = options?.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new InputError(`concurrency must be a positive integer, got ${concurrency}`);
  return concurrency;
}

/** Turns whatever a handler threw into the `{ name, message }` a JobResult carries. */
export function describeError(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || 'Error', message: error.message };
  return { name: 'Error', message: String(error) };
}

/**
 * Sends a value through JSON as the distributed queue does, so that embedded and distributed
 * runs hand handlers and callers the same thing (`undefined` becomes null).
 */
export function throughJson(value: unknown, what: string): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new InputError(`${what} is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return text === undefined ? null : JSON.parse(text);
}

/**
 * Waits for every job's result (in the order given), calling `onSettled` as each one arrives. A
 * throwing `onSettled` does not stop the others; the first such error is rethrown at the end.
 */
export async function settleAll<T>(items: T[], resultOf: (item: T) => Promise<JobResult>, onSettled?: (result: JobResult) => void): Promise<JobResult[]> {
  let callbackError: { error: unknown } | undefined;
  const results = await Promise.all(
    items.map(async (item) => {
      const result = await resultOf(item);
      try {
        onSettled?.(result);
      } catch (error) {
        callbackError ??= { error };
      }
      return result;
    }),
  );
  if (callbackError) throw callbackError.error;
  return results;
}
