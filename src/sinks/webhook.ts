import { InputError, TransientError, oneLine } from '../errors.js';
import { backoffDelayMs, type BackoffPolicy } from '../retry.js';
import { alarmSlackMessage, type AlarmNotice } from './alarm-message.js';
import { slackMessage, type RunAlert } from './slack-message.js';

export interface WebhookSinkOptions {
  /** An http(s) incoming-webhook URL. Treated as a secret: never put in messages or errors. */
  url: string;
  /** Retries after the first attempt; default 3. */
  retries?: number;
  /** Delay before the first retry, doubled for each further one; default 500 ms. */
  initialDelayMs?: number;
  /** Cap on any delay, including one a server asks for with Retry-After; default 10 000 ms. */
  maxDelayMs?: number;
  /** Time allowed for one attempt, from connecting to reading the response; default 5000 ms. */
  timeoutMs?: number;
  /** Waits between attempts; tests pass one that records delays and returns at once. */
  sleep?: (ms: number) => Promise<void>;
}

/** How one attempt ended, in the words the final error uses. */
type Attempt = { ok: true; status: number } | { ok: false; retryable: boolean; reason: string; retryAfterMs?: number; cause?: unknown };

function realSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function nonNegative(name: string, value: number, { integer = false } = {}): number {
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new InputError(`webhook ${name} must be a non-negative ${integer ? 'integer' : 'number'}, got ${value}`);
  }
  return value;
}

/** Retry-After is either delay-seconds or an HTTP date; anything else is ignored. */
function retryAfterMs(header: string | null, now: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Posts run alerts to a Slack-compatible incoming webhook, retrying what is worth retrying:
 * network errors, timeouts, 429 (waiting as long as Retry-After asks, up to `maxDelayMs`) and 5xx,
 * with exponential backoff. Other statuses are final.
 *
 * @example
 * ```ts
 * const sink = new WebhookSink({ url: process.env.DETOUR_SLACK_WEBHOOK! });
 * await sink.send({ kind: 'run_failed', pipeline: 'flights', runId, logicalDate: '2001-01-05', error: oneLine(error) });
 * ```
 */
export class WebhookSink {
  readonly #url: URL;
  readonly #retries: number;
  readonly #backoff: BackoffPolicy;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  /** @throws InputError for a URL that is not http(s) or an option out of range. */
  constructor(options: WebhookSinkOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      // Neither the URL nor the parser's error (which quotes it) goes into the message: a
      // half-pasted Slack webhook is still a secret.
      throw new InputError('webhook URL is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InputError(`webhook URL must be http or https, got ${url.protocol.replace(/:$/, '')}`);
    }
    this.#url = url;
    this.#retries = nonNegative('retries', options.retries ?? 3, { integer: true });
    const initialDelayMs = nonNegative('initialDelayMs', options.initialDelayMs ?? 500);
    const maxDelayMs = nonNegative('maxDelayMs', options.maxDelayMs ?? 10_000);
    // No jitter: a run sends one alert, with no crowd of retries to spread; waits double as documented.
    // backoffDelayMs wants initialDelayMs <= maxDelayMs; capping it here changes no wait.
    this.#backoff = { initialDelayMs: Math.min(initialDelayMs, maxDelayMs), maxDelayMs, jitter: false };
    this.#timeoutMs = nonNegative('timeoutMs', options.timeoutMs ?? 5000);
    if (this.#timeoutMs === 0) throw new InputError('webhook timeoutMs must be positive, got 0');
    this.#sleep = options.sleep ?? realSleep;
  }

  /** The webhook's host (with port), the only part of its URL that is safe to show. */
  get host(): string {
    return this.#url.host;
  }

  /**
   * Sends one alert as `slackMessage(alert)`; resolves with the number of attempts made and the
   * receiver's 2xx status.
   *
   * @throws InputError when the receiver rejects the alert with a status that retrying will not
   *   change (a 4xx other than 429, or a redirect); TransientError when every attempt failed with a
   *   retryable error. Both name the host and the last status or error, never the URL's path.
   */
  send(alert: RunAlert): Promise<{ attempts: number; status: number }> {
    return this.#deliver(JSON.stringify(slackMessage(alert)));
  }

  /** Sends an alarm that fired or resolved as `alarmSlackMessage(notice)`, retried and failing as {@link send} does. */
  sendAlarm(notice: AlarmNotice): Promise<{ attempts: number; status: number }> {
    return this.#deliver(JSON.stringify(alarmSlackMessage(notice)));
  }

  async #deliver(body: string): Promise<{ attempts: number; status: number }> {
    const maxAttempts = this.#retries + 1;
    let last: Attempt | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (last !== undefined && !last.ok) {
        const delayMs = last.retryAfterMs ?? backoffDelayMs(attempt - 1, this.#backoff);
        await this.#sleep(Math.min(delayMs, this.#backoff.maxDelayMs));
      }
      last = await this.#post(body);
      if (last.ok) return { attempts: attempt, status: last.status };
      if (!last.retryable) {
        throw new InputError(`webhook ${this.host} rejected the alert: ${last.reason}`, { cause: last.cause });
      }
    }
    const reason = last !== undefined && !last.ok ? last.reason : 'no attempt made';
    throw new TransientError(`webhook ${this.host} failed after ${maxAttempts} attempts, last: ${reason}`, {
      cause: last !== undefined && !last.ok ? last.cause : undefined,
    });
  }

  async #post(body: string): Promise<Attempt> {
    let response: Response;
    try {
      response = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        // Following a redirect would re-send the alert somewhere the operator did not configure.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        return { ok: false, retryable: true, reason: `timed out after ${this.#timeoutMs} ms` };
      }
      // fetch wraps the socket error ("connect ECONNREFUSED 127.0.0.1:9") in a bare "fetch failed".
      const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
      return { ok: false, retryable: true, reason: this.#redact(oneLine(cause)), cause };
    }
    // Slack explains a rejection in a short plain-text body ("invalid_payload", "no_service").
    const responseText = this.#redact(oneLine(await response.text().catch(() => ''))).slice(0, 200);
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, status };
    const reason = `HTTP ${status}${responseText === '' ? '' : ` ${responseText}`}`;
    if (status === 429) {
      return { ok: false, retryable: true, reason, retryAfterMs: retryAfterMs(response.headers.get('retry-after'), Date.now()) };
    }
    return { ok: false, retryable: status >= 500, reason };
  }

  /** Keeps the secret path out of any text that came back from the network stack or the receiver. */
  #redact(text: string): string {
    const secret = `${this.#url.pathname}${this.#url.search}`;
    let redacted = text.split(this.#url.href).join(this.host);
    if (secret.length > 1) redacted = redacted.split(secret).join('/…');
    return redacted;
  }
}
