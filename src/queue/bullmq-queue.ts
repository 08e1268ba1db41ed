import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { Job, JobsOptions, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { InputError, TransientError, UnavailableError, oneLine } from '../errors.js';
import { ServiceOutages, type OutageOptions } from '../outage.js';
import {
  assertValidSpecs,
  concurrencyOf,
  describeError,
  settleAll,
  throughJson,
  type JobHandler,
  type JobQueue,
  type JobResult,
  type JobSpec,
  type QueueDepth,
  type RunOptions,
  type WorkerHandle,
  type WorkOptions,
} from './queue.js';
import { parseRedisUrl, type RedisTarget } from './redis-url.js';

/**
 * While Redis is unreachable, run() waits for it for at most `outageWaitMs` (then rejects with an
 * UnavailableError) and `onOutage` hears of it once per outage; workers wait as long as it takes.
 */
export interface BullmqQueueOptions extends OutageOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** BullMQ queue name; every process of one deployment must use the same. Default 'detour-steps'. */
  queueName?: string;
  /** Prefix of every Redis key of the queue. Default 'detour'; tests use a random one to isolate. */
  prefix?: string;
  /**
   * How long a worker's claim on a job lasts without renewal (renewed every half of it while the
   * job runs). A worker that died loses its jobs to the others after about this long. A handler
   * that blocks the event loop longer than this loses its claim and its job is run twice.
   * Default 30 000 ms.
   */
  lockDurationMs?: number;
  /** How often workers look for jobs whose claim expired. Default 30 000 ms. */
  stalledIntervalMs?: number;
  /** How many times a job may lose its worker before it is failed instead of taken over. Default 5. */
  maxStalledCount?: number;
  /** How long one attempt to connect waits for Redis to answer when opening the queue. Default 3 000 ms. */
  connectTimeoutMs?: number;
  /**
   * How often run() asks Redis for the state of the jobs it waits for, in case a completion event
   * was missed (events published before the listener's first read, a reconnect). Default 1 000 ms.
   */
  pollIntervalMs?: number;
  /** Receives errors BullMQ reports in the background (lost connections, lost locks). Default: ignored. */
  onError?: (error: Error) => void;
}

const DEFAULTS = {
  queueName: 'detour-steps',
  prefix: 'detour',
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 5,
  connectTimeoutMs: 3_000,
  pollIntervalMs: 1_000,
};

/** Replies of a Redis that is there but refuses this login or database: a config error, not worth waiting for. */
const REFUSED_LOGIN = /^(WRONGPASS|NOAUTH|NOPERM)\b|^ERR (invalid password|DB index)/;
/**
 * ioredis's failures of a command sent while its connection was down or going down. By the time
 * the failure is seen the client may be connected again, so its status alone cannot tell.
 */
const CONNECTION_LOST = /^Stream isn't writeable|^Connection is closed|\b(ECONNRESET|EPIPE|ECONNREFUSED)\b/;

/**
 * Retries are the handler's business, so BullMQ runs a job once. Results of completed jobs stay
 * in Redis: they are how a run that is started again skips the work already done. Failed jobs
 * stay too (for depth() and their error) until the next run() of their id replaces them.
 */
const JOB_OPTIONS: JobsOptions = { attempts: 1, removeOnComplete: false, removeOnFail: false, stackTraceLimit: 1 };

interface Waiter {
  resolve(result: JobResult): void;
  reject(error: Error): void;
}

/**
 * The distributed queue: jobs live in Redis under BullMQ and run on any process that called
 * work() with the same URL, queue name and prefix. A worker process that dies mid-job (SIGKILL,
 * lost machine) loses its claim after `lockDurationMs`, and a surviving worker's stalled-job
 * check (every `stalledIntervalMs`) puts the job back to be run again.
 *
 * Open one with {@link BullmqQueue.connect}.
 */
/** The BullMQ module, loaded by {@link BullmqQueue.connect}. */
type BullMq = typeof import('bullmq');

export class BullmqQueue implements JobQueue {
  readonly kind = 'bullmq' as const;

  private readonly queue: Queue;
  /** Open workers; closing one also closes its own connection. */
  private readonly ownWorkers = new Set<WorkerHandle>();
  /** run() calls waiting for each BullMQ job id. */
  private readonly waiters = new Map<string, Waiter[]>();
  private events: Promise<QueueEvents> | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly settings: Required<Omit<BullmqQueueOptions, 'url' | 'onError' | keyof OutageOptions>> & { onError(error: Error): void },
    private readonly target: RedisTarget,
    private readonly client: Redis,
    private readonly outages: ServiceOutages,
    private readonly bullmq: BullMq,
  ) {
    this.queue = new bullmq.Queue(settings.queueName, { connection: client, prefix: settings.prefix, defaultJobOptions: JOB_OPTIONS });
    this.queue.on('error', settings.onError);
    // The connection reconnects by itself (see connect()); its state is Redis's as this process sees it.
    let lastError: Error = new Error('connection lost');
    client.on('error', (error: Error) => (lastError = error));
    client.on('reconnecting', () => this.outages.failed(lastError));
    client.on('ready', () => this.outages.recovered());
  }

  /**
   * Connects to the Redis at `options.url` and opens the queue on it. A Redis that does not answer
   * (each attempt bounded by `connectTimeoutMs`) is waited for up to `outageWaitMs`.
   *
   * @throws InputError for a malformed URL or a refused login, and UnavailableError when Redis
   * stays unreachable, in one line naming the URL (without password).
   *
   * @example
   * const queue = await BullmqQueue.connect({ url: 'redis://127.0.0.1:6379', lockDurationMs: 5_000, stalledIntervalMs: 5_000 });
   */
  static async connect(options: BullmqQueueOptions): Promise<BullmqQueue> {
    const target = parseRedisUrl(options.url);
    const settings = {
      queueName: options.queueName ?? DEFAULTS.queueName,
      prefix: options.prefix ?? DEFAULTS.prefix,
      lockDurationMs: options.lockDurationMs ?? DEFAULTS.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs ?? DEFAULTS.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount ?? DEFAULTS.maxStalledCount,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      onError: options.onError ?? (() => {}),
    };
    if (settings.queueName === '' || settings.queueName.includes(':')) throw new InputError(`queue name "${settings.queueName}" must be non-empty and without ':'`);
    const outages = new ServiceOutages('Redis', target.redactedUrl, 'check that it runs and that QUEUE_URL points at it', options);
    let connected = false;
    // Loaded here, not with the module: a process on the embedded queue never loads them.
    const [bullmq, { Redis }] = await Promise.all([import('bullmq'), import('ioredis')]);
    const newClient = () => new Redis({
      host: target.host,
      port: target.port,
      db: target.db,
      username: target.username,
      password: target.password,
      tls: target.tls ? { servername: isIP(target.host) ? undefined : target.host } : undefined,
      // Connected below, within connectTimeoutMs.
      lazyConnect: true,
      // A failed first connect is reported at once (below); a connection lost later is reopened
      // with backoff, for as long as it takes. Duplicates (workers, the event listener) inherit this.
      retryStrategy: (attempt) => (connected ? Math.min(250 * 2 ** attempt, 10_000) : null),
      // Commands of run(), depth() and obliterate() fail at once while Redis is unreachable rather
      // than wait for it; workers' connections wait instead (see work()).
      enableOfflineQueue: false,
      // BullMQ requires it of the blocking connections it duplicates from this one.
      maxRetriesPerRequest: null,
      // Finds a peer that vanished without closing (machine gone) while a blocking read waits.
      keepAlive: 10_000,
    });
    let client: Redis;
    try {
      client = await outages.retry(
        async () => {
          const candidate = newClient();
          await connectWithin(candidate, settings.connectTimeoutMs);
          return candidate;
        },
        (error) => !REFUSED_LOGIN.test((error as Error).message),
      );
    } catch (error) {
      if (error instanceof UnavailableError) throw error;
      throw new InputError(`cannot connect to Redis at ${target.redactedUrl}: ${oneLine(error)}`, { cause: error });
    }
    connected = true;
    const queue = new BullmqQueue(settings, target, client, outages, bullmq);
    try {
      await queue.queue.waitUntilReady();
    } catch (error) {
      await queue.close();
      throw new UnavailableError('Redis', `cannot open the job queue on Redis at ${target.redactedUrl}: ${oneLine(error)}`, { cause: error });
    }
    return queue;
  }

  async run(jobs: JobSpec[], options: RunOptions = {}): Promise<JobResult[]> {
    this.assertOpen();
    assertValidSpecs(jobs);
    const specs = jobs.map((job) => ({ ...job, data: throughJson(job.data, `data of job "${job.id}"`) as Record<string, unknown> }));

    const known = new Map<string, JobResult>();
    try {
      // Commands fail at once while Redis is unreachable: listening and adding are tried again once it is back.
      await this.unlessUnavailable(
        this.outages.retry(
          async () => {
            const listenAndEnqueue = async () => {
              await this.listen();
              await this.enqueue(specs, known);
            };
            try {
              await listenAndEnqueue();
            } catch (error) {
              // Sent as the connection went down, failed once it was back (the same outage): adding
              // is idempotent (job ids), so it is sent again at once.
              if (this.client.status !== 'ready' || !CONNECTION_LOST.test(error instanceof Error ? error.message : String(error))) throw error;
              await listenAndEnqueue();
            }
          },
          () => this.client.status !== 'ready',
        ),
      );
    } catch (error) {
      throw this.transient('cannot enqueue jobs', error);
    }

    return settleAll(specs, async (spec) => known.get(spec.id) ?? (await this.waitFor(toBullmqJobId(spec.id))), options.onSettled);
  }

  /** Adds the jobs not completed yet (noting the results of completed ones in `known`), leaving waiting and running ones be. */
  private async enqueue(specs: JobSpec[], known: Map<string, JobResult>): Promise<void> {
    const toAdd: JobSpec[] = [];
    const states = await Promise.all(specs.map((spec) => this.queue.getJobState(toBullmqJobId(spec.id))));
    for (const [index, state] of states.entries()) {
      const spec = specs[index];
      const jobId = toBullmqJobId(spec.id);
      if (state === 'completed') {
        const job = await this.queue.getJob(jobId);
        if (job) known.set(spec.id, resultOf(job, 'completed'));
        else toAdd.push(spec);
      } else if (state === 'failed') {
        await this.queue.remove(jobId);
        toAdd.push(spec);
      } else if (state === 'unknown') toAdd.push(spec);
      // Otherwise it is waiting or running already (a coordinator started again): wait for it.
    }
    if (toAdd.length > 0) {
      // An id added meanwhile by someone else is kept as it is: BullMQ ignores a duplicate id.
      await this.queue.addBulk(toAdd.map((spec) => ({ name: spec.name, data: spec.data, opts: { ...JOB_OPTIONS, jobId: toBullmqJobId(spec.id) } })));
    }
  }

  async work(handler: JobHandler, options?: WorkOptions): Promise<WorkerHandle> {
    this.assertOpen();
    // While Redis is unreachable, the worker's commands (lock renewals, results) wait on this
    // connection and are sent once it is back, so that a short outage costs no job its claim.
    const connection = this.client.duplicate({ enableOfflineQueue: true });
    const worker = new this.bullmq.Worker(
      this.settings.queueName,
      async (job: Job) => {
        const id = fromBullmqJobId(job.id!);
        try {
          const value = await handler({ id, name: job.name, data: job.data as Record<string, unknown> });
          return throughJson(value, `result of job "${id}"`);
        } catch (error) {
          throw errorToStore(error);
        }
      },
      {
        connection,
        prefix: this.settings.prefix,
        concurrency: concurrencyOf(options),
        lockDuration: this.settings.lockDurationMs,
        stalledInterval: this.settings.stalledIntervalMs,
        maxStalledCount: this.settings.maxStalledCount,
        // Recorded on each job (processedBy): which machine and process ran it.
        name: `${hostname()}-${process.pid}`,
      },
    );
    worker.on('error', this.settings.onError);
    try {
      await worker.waitUntilReady();
    } catch (error) {
      await worker.close(true);
      connection.disconnect();
      throw this.transient('cannot start a worker', error);
    }
    const handle: WorkerHandle = {
      close: async () => {
        this.ownWorkers.delete(handle);
        await worker.close();
        // The worker borrowed this connection (BullMQ closes only the ones it duplicated itself).
        connection.disconnect();
      },
    };
    this.ownWorkers.add(handle);
    return handle;
  }

  async workers(): Promise<number> {
    try {
      return await this.queue.getWorkersCount();
    } catch (error) {
      throw this.transient('cannot count the workers', error);
    }
  }

  async depth(): Promise<QueueDepth> {
    try {
      const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'waiting-children', 'active', 'delayed', 'completed', 'failed');
      const count = (type: string) => counts[type] ?? 0;
      return {
        waiting: count('waiting') + count('prioritized') + count('waiting-children'),
        active: count('active'),
        delayed: count('delayed'),
        completed: count('completed'),
        failed: count('failed'),
      };
    } catch (error) {
      throw this.transient('cannot read the queue depth', error);
    }
  }

  /** Deletes every job and key of this queue from Redis, whatever their state (tests, resets). */
  async obliterate(): Promise<void> {
    this.assertOpen();
    try {
      await this.queue.obliterate({ force: true });
    } catch (error) {
      throw this.transient('cannot obliterate the queue', error);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.ownWorkers].map((worker) => worker.close()));
    this.ownWorkers.clear();
    // Jobs the closed workers just finished may not have been heard of yet.
    await this.poll();
    const abandoned = [...this.waiters.keys()].map(fromBullmqJobId);
    this.abandonWaiters(new TransientError(`queue closed while waiting for ${abandoned.length} job(s): ${abandoned.join(', ')}`));
    const events = await this.events?.catch(() => undefined);
    if (this.client.status === 'ready') {
      await events?.close();
      await this.queue.close();
    } else {
      // Closing politely waits for Redis to answer, and it is not there: the closes are left to
      // stop BullMQ's loops, and the connections are dropped without waiting.
      for (const closing of [events?.close(), this.queue.close()]) closing?.catch(() => {});
      (await events?.backend.client)?.disconnect();
    }
    // The Queue borrowed this connection (BullMQ closes only the ones it duplicated itself).
    this.client.disconnect();
  }

  /** Starts the completion listener once per queue: only processes that call run() need it. */
  private listen(): Promise<QueueEvents> {
    this.events ??= (async () => {
      const events = new this.bullmq.QueueEvents(this.settings.queueName, { connection: this.client, prefix: this.settings.prefix });
      events.on('error', this.settings.onError);
      const onFinished = ({ jobId }: { jobId: string }) => void this.check(jobId);
      events.on('completed', onFinished);
      events.on('failed', onFinished);
      try {
        await events.waitUntilReady();
      } catch (error) {
        this.events = undefined;
        await events.close().catch(() => {});
        throw this.transient('cannot listen for job events', error);
      }
      return events;
    })();
    return this.events;
  }

  /**
   * Resolves when the job has finished. Checks its state at once, since it may have finished
   * before the listener heard of it, and polls while anyone waits, since an event can be missed.
   */
  private waitFor(jobId: string): Promise<JobResult> {
    const result = new Promise<JobResult>((resolve, reject) => {
      const waiters = this.waiters.get(jobId) ?? [];
      waiters.push({ resolve, reject });
      this.waiters.set(jobId, waiters);
    });
    void this.check(jobId);
    this.pollTimer ??= setInterval(() => void this.poll(), this.settings.pollIntervalMs);
    return result;
  }

  private async poll(): Promise<void> {
    // Checked before anything else: a check sent before the outage waits for Redis to come back.
    if (this.outages.exhausted) this.abandonWaiters(this.outages.unavailable());
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all([...this.waiters.keys()].map((jobId) => this.check(jobId)));
    } finally {
      this.polling = false;
    }
  }

  /**
   * `work`, or an UnavailableError once Redis has been unreachable for as long as run() waits:
   * a command sent just before an outage waits for Redis to come back, however long that takes.
   */
  private async unlessUnavailable<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const givingUp = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (this.outages.exhausted) reject(this.outages.unavailable());
      }, this.settings.pollIntervalMs);
    });
    try {
      return await Promise.race([work, givingUp]);
    } finally {
      clearInterval(timer);
    }
  }

  /** Rejects every run() waiting for a job, and stops polling. */
  private abandonWaiters(error: Error): void {
    for (const waiters of this.waiters.values()) for (const waiter of waiters) waiter.reject(error);
    this.waiters.clear();
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** Settles the waiters of a job if it has finished; a Redis error is left to the next poll. */
  private async check(jobId: string): Promise<void> {
    if (!this.waiters.has(jobId)) return;
    let result: JobResult | undefined;
    try {
      // State first: a finished job no longer changes, whereas a job read before its state could
      // be one that finished in between, without its result.
      const state = await this.queue.getJobState(jobId);
      if (state === 'completed' || state === 'failed') {
        const job = await this.queue.getJob(jobId);
        result = job ? resultOf(job, state) : { id: fromBullmqJobId(jobId), status: 'lost' };
      } else if (state === 'unknown') result = { id: fromBullmqJobId(jobId), status: 'lost' };
    } catch (error) {
      this.settings.onError(error as Error);
      return;
    }
    if (result === undefined) return;
    const waiters = this.waiters.get(jobId);
    this.waiters.delete(jobId);
    if (this.waiters.size === 0) {
      clearInterval(this.pollTimer);
      this.pollTimer = undefined;
    }
    for (const waiter of waiters ?? []) waiter.resolve(result);
  }

  private transient(what: string, error: unknown): Error {
    if (error instanceof InputError || error instanceof TransientError) return error;
    return new TransientError(`${what} on Redis at ${this.target.redactedUrl}: ${oneLine(error)}`, { cause: error });
  }

  private assertOpen(): void {
    if (this.closing) throw new TransientError('the job queue is closed');
  }
}

/**
 * Opens the connection, or closes it and throws when Redis refuses it or gives no answer (to
 * connecting, logging in, selecting the database and the ready check) within `timeoutMs`.
 */
async function connectWithin(client: Redis, timeoutMs: number): Promise<void> {
  // connect() rejects with a bare "Connection is closed."; the cause comes as an 'error' event.
  let cause: Error | undefined;
  const remember = (error: Error) => {
    cause ??= error;
  };
  client.on('error', remember);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect().catch((error: unknown) => {
        throw cause ?? error;
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    // Still listening: the socket being torn down may report more errors, which ioredis would
    // otherwise print as unhandled.
    client.disconnect();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  client.off('error', remember);
}

/**
 * BullMQ refuses custom job ids that look like integers (they clash with its own counter) or
 * contain ':' (its key separator). '%', ':' and '#' are percent-escaped and an integer-looking id
 * gets a leading '#', which keeps the mapping reversible.
 */
export function toBullmqJobId(id: string): string {
  const escaped = id.replace(/[%:#]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${Number.parseInt(escaped, 10)}` === escaped ? `#${escaped}` : escaped;
}

/** The JobSpec id a BullMQ job id was made from (inverse of {@link toBullmqJobId}). */
export function fromBullmqJobId(jobId: string): string {
  return jobId.replace(/^#/, '').replace(/%(25|3A|23)/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/**
 * BullMQ keeps only the message (`failedReason`) and the stack of a failed job. The error's name
 * (which the coordinator maps to exit codes) travels as the first line of the stored stack,
 * `<name>: <message>`, as V8 writes it for most errors anyway.
 */
function errorToStore(error: unknown): Error {
  const { name, message } = describeError(error);
  const stored = new Error(message);
  const frames = error instanceof Error && error.stack ? error.stack.split('\n').filter((line) => /^\s+at /.test(line)) : [];
  stored.stack = [`${name}: ${message}`, ...frames].join('\n');
  return stored;
}

function resultOf(job: Job, state: 'completed' | 'failed'): JobResult {
  const id = fromBullmqJobId(job.id!);
  if (state === 'completed') return { id, status: 'completed', value: job.returnvalue ?? null };
  const message = job.failedReason ?? '';
  const stack = job.stacktrace?.at(-1) ?? '';
  const nameEnd = stack.indexOf(`: ${message}`);
  const name = nameEnd > 0 && /^[\w$.]+$/.test(stack.slice(0, nameEnd)) ? stack.slice(0, nameEnd) : 'Error';
  return { id, status: 'failed', error: { name, message } };
}
