import { describe, expect, it } from 'vitest';
import { InputError, NotFoundError, QualityGateError, TransientError } from '../src/errors.js';
import { RetriesExhaustedError, StepTimeoutError, backoffDelayMs, isRetryable, withRetries, type BackoffPolicy, type RetryPolicy } from '../src/retry.js';

const noJitter: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 1_000, jitter: false };
const jittered: BackoffPolicy = { initialDelayMs: 100, maxDelayMs: 1_000 };
const tripling: BackoffPolicy = { initialDelayMs: 10, maxDelayMs: 100_000, multiplier: 3, jitter: false };
const random = (value: number) => () => value;

describe('backoffDelayMs', () => {
  it.each<[string, number, BackoffPolicy, () => number, number]>([
    ['first retry waits the initial delay', 1, noJitter, Math.random, 100],
    ['doubles by default', 2, noJitter, Math.random, 200],
    ['doubles again', 3, noJitter, Math.random, 400],
    ['caps at maxDelayMs', 5, noJitter, Math.random, 1_000],
    ['stays capped far out (no overflow)', 5_000, noJitter, Math.random, 1_000],
    ['honours the multiplier', 3, tripling, Math.random, 90],
    ['jitter with random 0 waits half the ceiling', 1, jittered, random(0), 50],
    ['jitter with random 1 waits the full ceiling', 1, jittered, random(1), 100],
    ['jitter halves a capped ceiling', 9, jittered, random(0), 500],
    ['jitter in the middle', 2, jittered, random(0.5), 150],
    ['a zero delay stays zero', 50, { initialDelayMs: 0, maxDelayMs: 0 }, random(1), 0],
  ])('%s', (_case, attempt, policy, randomSource, expected) => {
    expect(backoffDelayMs(attempt, policy, randomSource)).toBe(expected);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects attempt %s', (attempt) => {
    expect(() => backoffDelayMs(attempt, noJitter)).toThrow(RangeError);
  });

  it.each<[BackoffPolicy, RegExp]>([
    [{ initialDelayMs: -1, maxDelayMs: 10 }, /initialDelayMs/],
    [{ initialDelayMs: 100, maxDelayMs: 10 }, /maxDelayMs/],
    [{ initialDelayMs: 1, maxDelayMs: 10, multiplier: 0.5 }, /multiplier/],
  ])('rejects the policy %o', (policy, message) => {
    expect(() => backoffDelayMs(1, policy)).toThrow(InputError);
    expect(() => backoffDelayMs(1, policy)).toThrow(message);
  });
});

describe('isRetryable', () => {
  it.each<[unknown, boolean]>([
    [new InputError('bad'), false],
    [new NotFoundError('gone'), false],
    [new QualityGateError('dirty'), false],
    [new TransientError('flaky'), true],
    [new StepTimeoutError(10), true],
    [new Error('plain'), true],
    ['a string', true],
  ])('%s → %s', (error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });
});

describe('withRetries', () => {
  const policy: RetryPolicy = { retries: 3, backoff: noJitter };
  function recorder() {
    const sleeps: number[] = [];
    const retries: { attempt: number; error: unknown; delayMs: number }[] = [];
    return {
      sleeps,
      retries,
      hooks: { sleep: async (ms: number) => void sleeps.push(ms), onRetry: (info: { attempt: number; error: unknown; delayMs: number }) => void retries.push(info) },
    };
  }

  it('returns at once when the first attempt succeeds', async () => {
    const { hooks, sleeps } = recorder();
    await expect(withRetries(async () => 'ok', policy, hooks)).resolves.toEqual({ value: 'ok', attempts: 1 });
    expect(sleeps).toEqual([]);
  });

  it('retries transient failures with growing waits until success', async () => {
    const { hooks, sleeps, retries } = recorder();
    const seen: number[] = [];
    const result = await withRetries(
      async (attempt) => {
        seen.push(attempt);
        if (attempt < 3) throw new TransientError(`flaky ${attempt}`);
        return attempt * 10;
      },
      policy,
      hooks,
    );
    expect(result).toEqual({ value: 30, attempts: 3 });
    expect(seen).toEqual([1, 2, 3]);
    expect(sleeps).toEqual([100, 200]);
    expect(retries.map(({ attempt, delayMs, error }) => [attempt, delayMs, (error as Error).message])).toEqual([
      [1, 100, 'flaky 1'],
      [2, 200, 'flaky 2'],
    ]);
  });

  it('uses the injected random for jitter', async () => {
    const { hooks, sleeps } = recorder();
    let calls = 0;
    await withRetries(
      async () => {
        if (++calls === 1) throw new Error('once');
      },
      { retries: 1, backoff: jittered },
      { ...hooks, random: random(0) },
    );
    expect(sleeps).toEqual([50]);
  });

  it.each([new InputError('bad date'), new NotFoundError('no such run'), new QualityGateError('too many nulls')])('does not retry %s and rethrows it unchanged', async (error) => {
    const { hooks, sleeps } = recorder();
    let calls = 0;
    const run = withRetries(
      async () => {
        calls++;
        throw error;
      },
      policy,
      hooks,
    );
    await expect(run).rejects.toBe(error);
    expect(calls).toBe(1);
    expect(sleeps).toEqual([]);
  });

  it('turns a synchronous throw into a failed attempt', async () => {
    const { hooks } = recorder();
    const work = ((attempt: number) => {
      if (attempt === 1) throw new Error('sync');
      return Promise.resolve('later');
    }) as (attempt: number) => Promise<string>;
    await expect(withRetries(work, policy, hooks)).resolves.toEqual({ value: 'later', attempts: 2 });
  });

  it('aborts a slow attempt, counts it as a failed attempt and retries', async () => {
    const { hooks, retries } = recorder();
    const signals: AbortSignal[] = [];
    const result = await withRetries(
      (attempt, signal) => {
        signals.push(signal);
        if (attempt > 1) return Promise.resolve('fast');
        return new Promise<string>(() => {}); // hangs; only the timeout ends it
      },
      { ...policy, timeoutMs: 20 },
      hooks,
    );
    expect(result).toEqual({ value: 'fast', attempts: 2 });
    expect(signals[0].aborted).toBe(true);
    expect(signals[0].reason).toBeInstanceOf(StepTimeoutError);
    expect(signals[1].aborted).toBe(false);
    expect(retries[0].error).toBeInstanceOf(StepTimeoutError);
    expect((retries[0].error as Error).message).toBe('timed out after 20ms');
  });

  it('throws RetriesExhaustedError with the attempt count and the last error as cause', async () => {
    const { hooks, sleeps } = recorder();
    const errors: Error[] = [];
    const run = withRetries(
      async (attempt) => {
        const error = new TransientError(`S3 down\n(attempt ${attempt})`);
        errors.push(error);
        throw error;
      },
      { retries: 2, backoff: noJitter },
      hooks,
    );
    const failure = await run.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RetriesExhaustedError);
    const exhausted = failure as RetriesExhaustedError;
    expect(exhausted.attempts).toBe(3);
    expect(exhausted.cause).toBe(errors[2]);
    expect(exhausted.message).toBe('S3 down (attempt 3)');
    expect(exhausted.name).toBe('RetriesExhaustedError');
    expect(sleeps).toEqual([100, 200]);
  });

  it('with retries 0 tries exactly once', async () => {
    const { hooks } = recorder();
    const failure = await withRetries(async () => Promise.reject(new Error('no')), { retries: 0, backoff: noJitter }, hooks).catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: 'RetriesExhaustedError', attempts: 1, message: 'no' });
  });

  it.each<[RetryPolicy, RegExp]>([
    [{ retries: -1, backoff: noJitter }, /retries/],
    [{ retries: 1.5, backoff: noJitter }, /retries/],
    [{ retries: 1, backoff: noJitter, timeoutMs: 0 }, /timeoutMs/],
  ])('rejects the policy %o before running anything', async (badPolicy, message) => {
    let calls = 0;
    const run = withRetries(async () => void calls++, badPolicy);
    await expect(run).rejects.toThrow(InputError);
    await expect(run).rejects.toThrow(message);
    expect(calls).toBe(0);
  });
});

describe('StepTimeoutError', () => {
  it.each<[number, string]>([
    [30_000, 'timed out after 30s'],
    [1_500, 'timed out after 1.5s'],
    [250, 'timed out after 250ms'],
  ])('%i ms reads "%s"', (ms, message) => {
    const error = new StepTimeoutError(ms);
    expect(error.message).toBe(message);
    expect(error.name).toBe('StepTimeoutError');
    expect(error.timeoutMs).toBe(ms);
  });
});
