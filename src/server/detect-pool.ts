/**
 * A small pool of threads for the detections that take long (ARIMA's order search, forests and
 * DBSCAN on many points), so that one long request never holds up the others on the event loop.
 * A detection whose request is aborted (timed out, client gone) is dropped from the queue, or its
 * thread is ended and replaced.
 */
import type { Worker } from 'node:worker_threads';
import type { RecordDetectorName, SeriesDetectorName, Verdicts } from '../detectors/index.js';
import { InputError } from '../errors.js';
import { startModuleThread } from '../threads.js';

/** One detection for a thread; typed arrays are copied to it. */
export type DetectTask =
  | { kind: 'series'; detector: SeriesDetectorName; timestampsMs: Float64Array; values: Float64Array; params: unknown }
  | { kind: 'records'; detector: RecordDetectorName; columns: Float64Array[]; features: string[]; params: unknown };

/** What a thread answers: the verdicts, or the error's name and message (InputError stays an InputError). */
export type TaskOutcome = { ok: true; verdicts: Verdicts } | { ok: false; name: string; message: string };

interface Job {
  task: DetectTask;
  signal?: AbortSignal;
  resolve(verdicts: Verdicts): void;
  reject(error: unknown): void;
}

/** A detection's arrays die young and large: a small young generation keeps each thread's memory down. */
const THREAD_LIMITS = { maxYoungGenerationSizeMb: 8 };

export class DetectorPool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private closed = false;
  /** Threads not started yet: each starts with the first detection it is needed for (a thread costs tens of MB). */
  private unstarted: number;

  constructor(size: number) {
    this.unstarted = size;
  }

  /** Runs `task` on a free thread (queued until one is); rejects with the detector's error, or the signal's reason once aborted. */
  run(task: DetectTask, signal?: AbortSignal): Promise<Verdicts> {
    if (this.closed) return Promise.reject(new Error('detector pool closed'));
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const job: Job = { task, signal, resolve, reject };
      signal?.addEventListener('abort', () => this.abort(job), { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** Ends every thread; queued detections are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('detector pool closed'));
    const threads = [...this.idle.splice(0), ...this.running.keys()];
    this.running.clear();
    await Promise.all(threads.map((thread) => thread.terminate()));
  }

  private spawn(): Worker {
    const thread = startModuleThread(import.meta.url, './detect-worker', { resourceLimits: THREAD_LIMITS });
    thread.on('message', (outcome: TaskOutcome) => {
      const job = this.running.get(thread);
      this.running.delete(thread);
      this.idle.push(thread);
      if (job !== undefined) {
        if (outcome.ok) job.resolve(outcome.verdicts);
        else job.reject(outcome.name === 'InputError' ? new InputError(outcome.message) : new Error(outcome.message));
      }
      this.dispatch();
    });
    thread.on('error', (error) => this.replace(thread, error));
    // Threads never hold the process open: the server decides when it ends.
    thread.unref();
    return thread;
  }

  /** A thread that failed or was ended: its job fails with `error`, another thread takes its place. */
  private replace(thread: Worker, error: unknown): void {
    const job = this.running.get(thread);
    this.running.delete(thread);
    const index = this.idle.indexOf(thread);
    if (index >= 0) this.idle.splice(index, 1);
    void thread.terminate();
    job?.reject(error);
    if (!this.closed) {
      this.idle.push(this.spawn());
      this.dispatch();
    }
  }

  private abort(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      job.reject(job.signal?.reason);
      return;
    }
    for (const [thread, running] of this.running) if (running === job) this.replace(thread, job.signal?.reason);
  }

  private dispatch(): void {
    for (; this.unstarted > 0 && this.queue.length > this.idle.length; this.unstarted--) this.idle.push(this.spawn());
    while (this.idle.length > 0 && this.queue.length > 0) {
      const thread = this.idle.pop() as Worker;
      const job = this.queue.shift() as Job;
      this.running.set(thread, job);
      thread.postMessage(job.task);
    }
  }
}
