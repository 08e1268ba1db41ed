import { TransientError } from '../errors.js';
import {
  assertValidSpecs,
  concurrencyOf,
  describeError,
  settleAll,
  throughJson,
  type JobContext,
  type JobHandler,
  type JobQueue,
  type JobResult,
  type JobSpec,
  type QueueDepth,
  type RunOptions,
  type WorkerHandle,
  type WorkOptions,
} from './queue.js';

/** A job waiting for a free worker slot, and the run() calls waiting for its result. */
interface QueuedJob {
  context: JobContext;
  settle(result: JobResult): void;
  abandon(error: Error): void;
}

/** A handler registered with work(), and the jobs it is running now. */
interface InlineWorker {
  handler: JobHandler;
  concurrency: number;
  running: number;
  closing: boolean;
  /** Resolved whenever `running` drops to 0, for close(). */
  whenIdle: (() => void)[];
}

/**
 * The embedded queue: jobs run in this process on the handlers given to work(), FIFO, at most
 * each worker's concurrency at once. Results of completed jobs are remembered by id for the
 * queue's lifetime, as the distributed queue keeps them in Redis. Data and results go through
 * JSON, so a handler that works here also works on BullMQ.
 */
export class InlineQueue implements JobQueue {
  readonly kind = 'inline' as const;

  private readonly completed = new Map<string, unknown>();
  private readonly failed = new Map<string, { name: string; message: string }>();
  /** Results of jobs waiting or running, shared by every run() that asked for the id. */
  private readonly unfinished = new Map<string, Promise<JobResult>>();
  private readonly waiting: QueuedJob[] = [];
  private readonly ownWorkers = new Set<InlineWorker>();
  private active = 0;
  private closed = false;

  async run(jobs: JobSpec[], options: RunOptions = {}): Promise<JobResult[]> {
    this.assertOpen();
    assertValidSpecs(jobs);
    // Everything is checked before anything is queued, so a bad batch runs nothing.
    const contexts: JobContext[] = jobs.map((job) => ({
      id: job.id,
      name: job.name,
      data: throughJson(job.data, `data of job "${job.id}"`) as Record<string, unknown>,
    }));
    return settleAll(contexts, (context) => this.resultOf(context), options.onSettled);
  }

  async work(handler: JobHandler, options?: WorkOptions): Promise<WorkerHandle> {
    this.assertOpen();
    const worker: InlineWorker = { handler, concurrency: concurrencyOf(options), running: 0, closing: false, whenIdle: [] };
    this.ownWorkers.add(worker);
    this.dispatch();
    return { close: () => this.closeWorker(worker) };
  }

  async depth(): Promise<QueueDepth> {
    return { waiting: this.waiting.length, active: this.active, delayed: 0, completed: this.completed.size, failed: this.failed.size };
  }

  async workers(): Promise<number> {
    return [...this.ownWorkers].filter((worker) => !worker.closing).length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.ownWorkers].map((worker) => this.closeWorker(worker)));
    const abandoned = this.waiting.splice(0);
    const error = new TransientError(`queue closed before ${abandoned.length} job(s) ran: ${abandoned.map((job) => job.context.id).join(', ')}`);
    for (const job of abandoned) job.abandon(error);
  }

  private resultOf(context: JobContext): Promise<JobResult> {
    if (this.completed.has(context.id)) return Promise.resolve({ id: context.id, status: 'completed', value: this.completed.get(context.id) });
    const unfinished = this.unfinished.get(context.id);
    if (unfinished) return unfinished;
    this.failed.delete(context.id); // it is being run again
    const result = new Promise<JobResult>((resolve, reject) => {
      this.waiting.push({ context, settle: resolve, abandon: reject });
    });
    this.unfinished.set(context.id, result);
    // The entry goes when the job ends either way; the caller handles the rejection itself.
    result.then(
      () => this.unfinished.delete(context.id),
      () => this.unfinished.delete(context.id),
    );
    this.dispatch();
    return result;
  }

  /** Starts waiting jobs on workers with a free slot, first come first served. */
  private dispatch(): void {
    while (this.waiting.length > 0) {
      const worker = [...this.ownWorkers].find((candidate) => !candidate.closing && candidate.running < candidate.concurrency);
      if (!worker) return;
      void this.execute(worker, this.waiting.shift()!);
    }
  }

  private async execute(worker: InlineWorker, job: QueuedJob): Promise<void> {
    const { id } = job.context;
    worker.running++;
    this.active++;
    let result: JobResult;
    try {
      const value = await worker.handler(job.context);
      result = { id, status: 'completed', value: throughJson(value, `result of job "${id}"`) };
      this.completed.set(id, result.value);
    } catch (error) {
      result = { id, status: 'failed', error: describeError(error) };
      this.failed.set(id, result.error);
    }
    worker.running--;
    this.active--;
    job.settle(result);
    if (worker.running === 0) for (const resolve of worker.whenIdle.splice(0)) resolve();
    this.dispatch();
  }

  private async closeWorker(worker: InlineWorker): Promise<void> {
    worker.closing = true;
    this.ownWorkers.delete(worker);
    if (worker.running > 0) await new Promise<void>((resolve) => worker.whenIdle.push(resolve));
  }

  private assertOpen(): void {
    if (this.closed) throw new TransientError('the job queue is closed');
  }
}
