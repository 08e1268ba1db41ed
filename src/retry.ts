/**
 * Retrying a step: how long to wait between attempts (pure arithmetic), which errors are worth
 * another attempt, and a runner that bounds each attempt with a timeout.
 */
import { InputError, QualityGateError, oneLine } from './errors.js';

/** How the wait between attempts grows. */
export interface BackoffPolicy {
  /** Wait before the first retry, before jitter. */
  initialDelayMs: number;
  /** Upper bound of any wait. */
  maxDelayMs: number;
  /** Growth factor per retry; default 2. */
  multiplier?: number;
  /** Randomise the wait (equal jitter, see {@link backoffDelayMs}); default true. */
  jitter?: boolean;
}

/** How often and how long a step may try. */
export interface RetryPolicy {
  /** Attempts after the first one; 0 = no retry. */
  retries: number;
  backoff: BackoffPolicy;
  /** Bound on each single attempt; unset = no bound. */
  timeoutMs?: number;
}

/** An attempt ran longer than its policy's `timeoutMs`. Retryable. */
export class StepTimeoutError extends Error {
  override readonly name = 'StepTimeoutError';
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`timed out after ${formatDuration(timeoutMs)}`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Every attempt failed with a retryable error. `message` is the last error's message (one line),
 * `cause` the last error itself, `attempts` how many attempts ran.
 */
export class RetriesExhaustedError extends Error {
  override readonly name = 'RetriesExhaustedError';
  readonly attempts: number;
  override readonly cause: unknown;
  constructor(attempts: number, lastError: unknown) {
    super(oneLine(lastError), { cause: lastError });
    this.attempts = attempts;
    this.cause = lastError;
  }
}

/**
 * The wait before retry number `attempt` (1 = the first retry), in whole milliseconds.
 *
 * The ceiling grows exponentially, `min(maxDelayMs, initialDelayMs * multiplier^(attempt-1))`.
 * With jitter (the default) the wait is drawn uniformly from `[ceiling/2, ceiling]`: "equal
 * jitter" rather than AWS's "full jitter" `[0, ceiling]`, so that retries of many workers still
 * spread out but a retry never fires instantly against a service that just failed.
 *
 * @example
 * backoffDelayMs(3, { initialDelayMs: 100, maxDelayMs: 10_000, jitter: false }); // 400
 * @throws RangeError when `attempt` is not an integer >= 1; InputError for an invalid policy.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`retry attempt must be an integer >= 1, got ${attempt}`);
  checkBackoffPolicy(policy);
  const multiplier = policy.multiplier ?? 2;
  // 0 * Infinity would be NaN once multiplier^n overflows.
  const grown = policy.initialDelayMs === 0 ? 0 : policy.initialDelayMs * multiplier ** (attempt - 1);
  const ceilingMs = Math.min(policy.maxDelayMs, grown);
  if (policy.jitter === false) return Math.round(ceilingMs);
  return Math.round(ceilingMs / 2 + random() * (ceilingMs / 2));
}

/**
 * Whether an error is worth another attempt: bad input (`InputError`, `NotFoundError`) and a
 * failed data gate (`QualityGateError`) fail the same way every time; anything else may pass.
 */
export function isRetryable(error: unknown): boolean {
  return !(error instanceof InputError || error instanceof QualityGateError);
}

/**
 * Runs `work` until it succeeds, retrying retryable errors up to `policy.retries` times with
 * {@link backoffDelayMs} between attempts. Each attempt gets its number (from 1) and a signal
 * that is aborted when the attempt exceeds `policy.timeoutMs`; the attempt then fails with a
 * {@link StepTimeoutError}, which is retried like any other transient failure.
 *
 * A non-retryable error is rethrown at once, unchanged. When every attempt fails, throws
 * {@link RetriesExhaustedError} with the last error as `cause`.
 *
 * @example
 * const { value, attempts } = await withRetries(
 *   (attempt, signal) => fetchPartition(date, { signal }),
 *   { retries: 3, backoff: { initialDelayMs: 1_000, maxDelayMs: 30_000 }, timeoutMs: 60_000 },
 *   { onRetry: ({ attempt, error, delayMs }) => log.warn({ attempt, delayMs }, oneLine(error)) },
 * );
 */
export async function withRetries<T>(
  work: (attempt: number, signal: AbortSignal) => Promise<T>,
  policy: RetryPolicy,
  hooks: {
    /** Called after attempt `attempt` failed and before waiting `delayMs` for the next one. */
    onRetry?: (info: { attempt: number; error: unknown; delayMs: number }) => void;
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
  } = {},
): Promise<{ value: T; attempts: number }> {
  checkRetryPolicy(policy);
  const sleep = hooks.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await runAttempt(work, attempt, policy.timeoutMs), attempts: attempt };
    } catch (error) {
      if (!isRetryable(error)) throw error;
      if (attempt > policy.retries) throw new RetriesExhaustedError(attempt, error);
      const delayMs = backoffDelayMs(attempt, policy.backoff, hooks.random);
      hooks.onRetry?.({ attempt, error, delayMs });
      await sleep(delayMs);
    }
  }
}

/** One attempt, raced against its timeout; a late result of a timed-out attempt is ignored. */
function runAttempt<T>(work: (attempt: number, signal: AbortSignal) => Promise<T>, attempt: number, timeoutMs: number | undefined): Promise<T> {
  const controller = new AbortController();
  // An async wrapper turns a synchronous throw in `work` into a rejected attempt.
  const result = (async () => work(attempt, controller.signal))();
  if (timeoutMs === undefined) return result;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const timeout = new StepTimeoutError(timeoutMs);
      controller.abort(timeout);
      reject(timeout);
    }, timeoutMs);
    result.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function checkBackoffPolicy(policy: BackoffPolicy): void {
  const { initialDelayMs, maxDelayMs, multiplier = 2 } = policy;
  if (!(Number.isFinite(initialDelayMs) && initialDelayMs >= 0)) throw new InputError(`backoff initialDelayMs must be a number >= 0, got ${initialDelayMs}`);
  if (!(Number.isFinite(maxDelayMs) && maxDelayMs >= initialDelayMs)) throw new InputError(`backoff maxDelayMs must be >= initialDelayMs (${initialDelayMs}), got ${maxDelayMs}`);
  if (!(Number.isFinite(multiplier) && multiplier >= 1)) throw new InputError(`backoff multiplier must be a number >= 1, got ${multiplier}`);
}

function checkRetryPolicy(policy: RetryPolicy): void {
  if (!(Number.isInteger(policy.retries) && policy.retries >= 0)) throw new InputError(`retries must be an integer >= 0, got ${policy.retries}`);
  if (policy.timeoutMs !== undefined && !(Number.isFinite(policy.timeoutMs) && policy.timeoutMs > 0)) {
    throw new InputError(`timeoutMs must be a number > 0, got ${policy.timeoutMs}`);
  }
  checkBackoffPolicy(policy.backoff);
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** 30000 → "30s", 1500 → "1.5s", 250 → "250ms": the unit a user would say. */
function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}
