/**
 * Waiting out an unreachable service (PostgreSQL, Redis): a process says so once per outage,
 * retries with backoff while the outage lasts no longer than it is willing to wait, then gives up
 * with an {@link UnavailableError} that says what to do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError, oneLine } from './errors.js';

/** How long a service may stay unreachable before detour gives up, unless told otherwise (`liveness.outageSeconds`). */
export const DEFAULT_OUTAGE_WAIT_MS = 60_000;

export interface OutageOptions {
  /** How long to wait for the service once it is unreachable; 0 gives up at once. Default {@link DEFAULT_OUTAGE_WAIT_MS}. */
  outageWaitMs?: number;
  /** Told once per outage, as it begins: `waiting for Redis at redis://host:6379 (connect ECONNREFUSED ...)`. */
  onOutage?: (notice: string) => void;
}

/** Retries while a service is unreachable start quick and slow down to this. */
const RETRY_DELAY_MS = { first: 250, max: 2_000 };

/** The outages of one service as this process sees them. */
export class ServiceOutages {
  private since: number | undefined;
  private lastError: unknown;

  /**
   * @param service what the user calls it: `PostgreSQL`, `Redis`.
   * @param address where it was expected, safe to print (no password).
   * @param advice what to do about it, e.g. "check that it runs and that DATABASE_URL points at it".
   */
  constructor(
    private readonly service: string,
    private readonly address: string,
    private readonly advice: string,
    private readonly options: OutageOptions,
  ) {}

  /** The service failed in a way that waiting may cure: an outage begins, unless one is on. */
  failed(error: unknown): void {
    this.lastError = error;
    if (this.since !== undefined) return;
    this.since = Date.now();
    if (this.waitMs > 0) this.options.onOutage?.(`waiting for ${this.service} at ${this.address} (${oneLine(error, 100)})`);
  }

  /** The service answered: the outage, if one was on, is over. */
  recovered(): void {
    this.since = undefined;
  }

  /** The current outage has lasted as long as this process waits. */
  get exhausted(): boolean {
    return this.since !== undefined && Date.now() - this.since >= this.waitMs;
  }

  /** The error to give up with: what was unreachable, for how long, why, and what to do. */
  unavailable(): UnavailableError {
    const seconds = this.since === undefined ? 0 : Math.round((Date.now() - this.since) / 1000);
    const lasted = seconds >= 1 ? ` for ${seconds} s` : '';
    return new UnavailableError(this.service, `${this.service} at ${this.address} unreachable${lasted} (${oneLine(this.lastError, 100)}); ${this.advice}`, { cause: this.lastError });
  }

  /**
   * Runs `attempt` until it succeeds. A failure `isOutage` recognises is retried with backoff as
   * long as the outage lasts less than `outageWaitMs`, then an {@link UnavailableError} is thrown;
   * any other failure is rethrown at once.
   */
  async retry<T>(attempt: () => Promise<T>, isOutage: (error: unknown) => boolean): Promise<T> {
    for (let delayMs = RETRY_DELAY_MS.first; ; delayMs = Math.min(delayMs * 2, RETRY_DELAY_MS.max)) {
      try {
        const value = await attempt();
        this.recovered();
        return value;
      } catch (error) {
        if (!isOutage(error)) throw error;
        this.failed(error);
        if (this.exhausted) throw this.unavailable();
        await sleep(Math.min(delayMs, this.waitMs - (Date.now() - (this.since as number))));
      }
    }
  }

  private get waitMs(): number {
    return this.options.outageWaitMs ?? DEFAULT_OUTAGE_WAIT_MS;
  }
}
