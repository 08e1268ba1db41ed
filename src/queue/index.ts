import { InputError } from '../errors.js';
import { BullmqQueue, type BullmqQueueOptions } from './bullmq-queue.js';
import { InlineQueue } from './inline-queue.js';
import type { JobQueue } from './queue.js';

export type {
  JobContext,
  JobHandler,
  JobQueue,
  JobResult,
  JobSpec,
  QueueDepth,
  RunOptions,
  WorkerHandle,
  WorkOptions,
} from './queue.js';
export { InlineQueue } from './inline-queue.js';
export { BullmqQueue, type BullmqQueueOptions } from './bullmq-queue.js';

/** Settings of the distributed queue; the embedded one has none. */
export type OpenQueueOptions = Omit<BullmqQueueOptions, 'url'>;

/**
 * Opens the job queue a URL names (typically REDIS_URL):
 * - absent or empty: an {@link InlineQueue} running jobs in this process;
 * - `redis://[user:password@]host:port[/db]` or `rediss://...`: a {@link BullmqQueue} on that Redis,
 *   whose jobs run on every process that called `work()` on the same Redis, queue name and prefix.
 *
 * @throws InputError for any other URL, or when Redis cannot be reached (one line naming the URL).
 *
 * @example
 * const queue = await openQueue(process.env.REDIS_URL, { lockDurationMs: 30_000 });
 * const worker = await queue.work(async (job) => runStep(job.name, job.data), { concurrency: 2 });
 * const results = await queue.run([{ id: 'run-7:ingest', name: 'ingest', data: { date: '2024-05-01' } }]);
 */
export async function openQueue(url: string | undefined, options: OpenQueueOptions = {}): Promise<JobQueue> {
  const trimmed = url?.trim() ?? '';
  if (trimmed === '') return new InlineQueue();
  if (/^rediss?:\/\//i.test(trimmed)) return BullmqQueue.connect({ ...options, url: trimmed });
  throw new InputError(`unsupported queue URL "${trimmed.replace(/\/\/[^@/]*@/, '//***@')}"; use redis://host:port[/db], rediss://..., or nothing for the embedded queue`);
}
