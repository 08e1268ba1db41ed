import nodemailer, { type Transporter } from 'nodemailer';
import { InputError, oneLine } from '../errors.js';
import { withRetries, type RetryPolicy } from '../retry.js';
import { alarmEmail, type AlarmNotice } from './alarm-message.js';

export interface EmailSinkOptions {
  /** `smtp://user:pass@host:port` or `smtps://...`; a secret: never put in messages or errors. */
  smtp: string;
  from: string;
  to: readonly string[];
  /** Retries after the first attempt, with exponential backoff and jitter. */
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Time allowed to connect, greet and each step of one attempt. */
  timeoutMs: number;
  /** Hears each failed attempt before the wait for the next (a logger). */
  onRetry?: (info: { attempt: number; error: unknown; delayMs: number }) => void;
}

/** SMTP reply codes 5xx are permanent: the same message would be refused again. */
function isPermanent(error: unknown): boolean {
  const code = (error as { responseCode?: unknown }).responseCode;
  return typeof code === 'number' && code >= 500 && code < 600;
}

/**
 * Sends alarm notices as email through an SMTP server (nodemailer). A server that is unreachable,
 * times out or answers 4xx is tried again with backoff (src/retry.ts); a 5xx refusal is final.
 *
 * @example
 * ```ts
 * const sink = new EmailSink({ smtp: 'smtp://mail:25', from: 'detour@example.com', to: ['oncall@example.com'], retries: 3, initialDelayMs: 1000, maxDelayMs: 30000, timeoutMs: 10000 });
 * await sink.sendAlarm({ pipeline: 'fleet', alarm: 'drift', state: 'firing', message: 'temperature PSI 3.1 > 0.2', date: '2014-07-10' });
 * ```
 */
export class EmailSink {
  readonly #transport: Transporter;
  readonly #host: string;
  readonly #options: EmailSinkOptions;
  readonly #policy: RetryPolicy;

  /** @throws InputError for an SMTP URL that does not parse. */
  constructor(options: EmailSinkOptions) {
    let url: URL;
    try {
      url = new URL(options.smtp);
    } catch {
      throw new InputError('SMTP URL is not a valid URL');
    }
    this.#host = url.host;
    this.#options = options;
    this.#policy = { retries: options.retries, backoff: { initialDelayMs: options.initialDelayMs, maxDelayMs: options.maxDelayMs } };
    this.#transport = nodemailer.createTransport({ url: options.smtp, connectionTimeout: options.timeoutMs, greetingTimeout: options.timeoutMs, socketTimeout: options.timeoutMs });
  }

  /** The SMTP server's host (with port), the only part of its URL that is safe to show. */
  get host(): string {
    return this.#host;
  }

  /**
   * Sends one notice to every recipient; resolves with the attempts it took.
   * @throws InputError when the server refuses it for good (5xx); RetriesExhaustedError when every attempt failed.
   */
  async sendAlarm(notice: AlarmNotice): Promise<{ attempts: number }> {
    const { subject, text } = alarmEmail(notice);
    const { attempts } = await withRetries(
      async () => {
        try {
          await this.#transport.sendMail({ from: this.#options.from, to: [...this.#options.to], subject, text });
        } catch (error) {
          const line = `SMTP ${this.#host}: ${oneLine(error)}`;
          throw isPermanent(error) ? new InputError(line, { cause: error }) : new Error(line, { cause: error });
        }
      },
      this.#policy,
      { onRetry: this.#options.onRetry },
    );
    return { attempts };
  }

  close(): void {
    this.#transport.close();
  }
}
