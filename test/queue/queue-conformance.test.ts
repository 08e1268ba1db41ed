import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError, TransientError } from '../../src/errors.js';
import { BullmqQueue, InlineQueue, type JobHandler, type JobQueue, type JobResult, type JobSpec } from '../../src/queue/index.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** How to get a fresh, empty queue for one adapter, and how to throw it away. */
interface Adapter {
  name: string;
  /** Whether its jobs live somewhere that can lose them (a Redis restarted without persistence). */
  canLoseJobs: boolean;
  open(): Promise<{ queue: JobQueue; cleanup(): Promise<void>; loseEverything?(): Promise<void> }>;
}

const adapters: Adapter[] = [
  {
    name: 'inline',
    canLoseJobs: false,
    open: async () => {
      const queue = new InlineQueue();
      return { queue, cleanup: () => queue.close() };
    },
  },
  {
    name: 'bullmq',
    canLoseJobs: true,
    open: async () => {
      // A random prefix keeps parallel test files (and earlier crashed runs) out of each other's way.
      const options = { url: REDIS_URL, prefix: `detour-test-${randomUUID()}`, lockDurationMs: 5_000, stalledIntervalMs: 5_000 };
      const queue = await BullmqQueue.connect(options);
      const admin = () => BullmqQueue.connect(options);
      return {
        queue,
        // What a Redis restarted without persistence looks like to the queue.
        loseEverything: async () => {
          const other = await admin();
          await other.obliterate();
          await other.close();
        },
        cleanup: async () => {
          await queue.close();
          const other = await admin();
          await other.obliterate();
          await other.close();
        },
      };
    },
  },
];

function jobs(count: number, name = 'step'): JobSpec[] {
  return Array.from({ length: count }, (_, index) => ({ id: `run-1:job-${index}`, name, data: { index } }));
}

describe.each(adapters)('JobQueue on $name', (adapter) => {
  let queue: JobQueue;
  let cleanup: (() => Promise<void>) | undefined;

  let loseEverything: (() => Promise<void>) | undefined;

  async function open(): Promise<JobQueue> {
    const opened = await adapter.open();
    queue = opened.queue;
    cleanup = opened.cleanup;
    loseEverything = opened.loseEverything;
    return queue;
  }

  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('says which kind it is', async () => {
    await open();
    expect(queue.kind).toBe(adapter.name);
  });

  it('returns results in the order given, whatever order the jobs finish in', async () => {
    await open();
    await queue.work(
      async (job) => {
        await sleep(20 * (5 - (job.data.index as number))); // the last job finishes first
        return { doubled: (job.data.index as number) * 2, id: job.id, name: job.name };
      },
      { concurrency: 5 },
    );
    const settled: string[] = [];
    const results = await queue.run(jobs(5), { onSettled: (result) => settled.push(result.id) });

    expect(results).toEqual(jobs(5).map((job, index) => ({ id: job.id, status: 'completed', value: { doubled: index * 2, id: job.id, name: 'step' } })));
    expect(settled.sort()).toEqual(jobs(5).map((job) => job.id).sort());
  });

  it('runs at most `concurrency` jobs at once', async () => {
    await open();
    let running = 0;
    let maxRunning = 0;
    await queue.work(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(100);
        running--;
        return null;
      },
      { concurrency: 2 },
    );
    const results = await queue.run(jobs(6));

    expect(results.every((result) => result.status === 'completed')).toBe(true);
    expect(maxRunning).toBe(2);
  });

  it('reports a failing job with its error name and message while the others complete', async () => {
    await open();
    await queue.work(
      async (job) => {
        if (job.data.index === 1) throw new InputError(`bad rows in ${job.id}`);
        if (job.data.index === 2) throw 'not even an Error';
        return 'ok';
      },
      { concurrency: 3 },
    );
    const results = await queue.run(jobs(4));

    expect(results).toEqual([
      { id: 'run-1:job-0', status: 'completed', value: 'ok' },
      { id: 'run-1:job-1', status: 'failed', error: { name: 'InputError', message: 'bad rows in run-1:job-1' } },
      { id: 'run-1:job-2', status: 'failed', error: { name: 'Error', message: 'not even an Error' } },
      { id: 'run-1:job-3', status: 'completed', value: 'ok' },
    ]);
  });

  it('does not run a completed id again, and returns its stored result', async () => {
    await open();
    const calls: string[] = [];
    await queue.work(async (job) => {
      calls.push(job.id);
      return { first: job.id };
    });
    const first = await queue.run(jobs(2));
    const settled: JobResult[] = [];
    const again = await queue.run([...jobs(3)], { onSettled: (result) => settled.push(result) });

    expect(again.slice(0, 2)).toEqual(first);
    expect(again[2]).toEqual({ id: 'run-1:job-2', status: 'completed', value: { first: 'run-1:job-2' } });
    expect(calls.sort()).toEqual(['run-1:job-0', 'run-1:job-1', 'run-1:job-2']);
    expect(settled).toHaveLength(3);
  });

  it('runs a failed id again on the next run', async () => {
    await open();
    let attempts = 0;
    await queue.work(async () => {
      attempts++;
      if (attempts === 1) throw new TransientError('flaky source');
      return attempts;
    });
    const [failed] = await queue.run(jobs(1));
    const [retried] = await queue.run(jobs(1));

    expect(failed).toEqual({ id: 'run-1:job-0', status: 'failed', error: { name: 'TransientError', message: 'flaky source' } });
    expect(retried).toEqual({ id: 'run-1:job-0', status: 'completed', value: 2 });
    expect((await queue.depth()).failed).toBe(0);
  });

  it('holds jobs added before any worker until one starts, and counts them in depth()', async () => {
    await open();
    expect(await queue.workers()).toBe(0);
    const running = queue.run(jobs(3, 'later'));
    await expect.poll(() => queue.depth(), { timeout: 5_000 }).toEqual({ waiting: 3, active: 0, delayed: 0, completed: 0, failed: 0 });

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await queue.work(
      async (job) => {
        await released;
        if (job.data.index === 2) throw new Error('boom');
        return job.name;
      },
      { concurrency: 2 },
    );
    await expect.poll(() => queue.depth(), { timeout: 5_000 }).toEqual({ waiting: 1, active: 2, delayed: 0, completed: 0, failed: 0 });
    await expect.poll(() => queue.workers(), { timeout: 5_000 }).toBe(1);
    release();
    const results = await running;

    expect(results.map((result) => result.status)).toEqual(['completed', 'completed', 'failed']);
    expect(await queue.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 2, failed: 1 });
  });

  it.runIf(adapter.canLoseJobs)('reports a job its storage lost mid-run as lost, and runs the lost id again when asked', async () => {
    await open();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    await queue.work(async (job) => {
      calls++;
      if (calls === 1) await released;
      return job.id;
    });
    const running = queue.run(jobs(1));
    await expect.poll(() => calls, { timeout: 5_000 }).toBe(1);
    await loseEverything!();

    expect(await running).toEqual([{ id: 'run-1:job-0', status: 'lost' }]);
    release();
    expect(await queue.run(jobs(1))).toEqual([{ id: 'run-1:job-0', status: 'completed', value: 'run-1:job-0' }]);
    expect(calls).toBe(2);
  });

  it('keeps ids with ":", "%", "#" and integer-looking ids intact', async () => {
    await open();
    const seen: string[] = [];
    await queue.work(async (job) => {
      seen.push(job.id);
      return job.id;
    });
    const ids = ['42', '-7', 'run:2024-05-01:ingest', '100%:#done', '#42', '%3A'];
    const results = await queue.run(ids.map((id) => ({ id, name: 'step', data: {} })));

    expect(results).toEqual(ids.map((id) => ({ id, status: 'completed', value: id })));
    expect(seen.sort()).toEqual([...ids].sort());
  });

  it('hands handlers and callers JSON copies (undefined becomes null)', async () => {
    await open();
    await queue.work(async (job) => (job.name === 'nothing' ? undefined : { echo: job.data, when: new Date(0) }));
    const results = await queue.run([
      { id: 'a', name: 'echo', data: { nested: { list: [1, 'two', null] }, skipped: undefined } },
      { id: 'b', name: 'nothing', data: {} },
    ]);

    expect(results).toEqual([
      { id: 'a', status: 'completed', value: { echo: { nested: { list: [1, 'two', null] } }, when: '1970-01-01T00:00:00.000Z' } },
      { id: 'b', status: 'completed', value: null },
    ]);
  });

  it('rejects bad specs with InputError before running anything', async () => {
    await open();
    await expect(queue.run([{ id: 'x', name: 'step', data: {} }, { id: 'x', name: 'step', data: {} }])).rejects.toThrow(InputError);
    await expect(queue.run([{ id: '', name: 'step', data: {} }])).rejects.toThrow(InputError);
    await expect(queue.run([{ id: 'big', name: 'step', data: { n: 1n } }])).rejects.toThrow(InputError);
    await expect(queue.work(async () => null, { concurrency: 0 })).rejects.toThrow(InputError);
    expect(await queue.depth()).toEqual({ waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
  });

  it('lets a worker finish its running job when closed, and takes no more', async () => {
    await open();
    let finished = 0;
    const handler: JobHandler = async () => {
      await sleep(300);
      finished++;
      return 'done';
    };
    const worker = await queue.work(handler);
    const running = queue.run(jobs(2));
    await expect.poll(() => queue.depth(), { timeout: 5_000 }).toMatchObject({ active: 1 });
    await worker.close();

    expect(finished).toBe(1);
    await sleep(400);
    expect(finished).toBe(1);
    expect(await queue.depth()).toMatchObject({ waiting: 1, active: 0, completed: 1 });

    await queue.work(handler); // another worker picks up what is left
    expect((await running).map((result) => result.status)).toEqual(['completed', 'completed']);
  });

  it('closes cleanly: running jobs finish, waiting callers get a TransientError, later calls are refused', async () => {
    await open();
    const orphan = queue.run([{ id: 'never', name: 'step', data: {} }]);
    // Handled from the start: close() may take I/O turns after rejecting it.
    const orphanRejected = expect(orphan).rejects.toThrow(TransientError);
    await expect.poll(() => queue.depth(), { timeout: 5_000 }).toMatchObject({ waiting: 1 });
    await queue.close();

    await orphanRejected;
    await expect(queue.run(jobs(1))).rejects.toThrow(TransientError);
    await expect(queue.work(async () => null)).rejects.toThrow(TransientError);
    await queue.close(); // twice is fine
  });
});
