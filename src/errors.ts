/**
 * The few error types detour raises on purpose. A user sees `message` as one line; a developer
 * follows `cause`. The CLI maps them to exit codes and the HTTP server to status codes.
 */

/** Bad input from the user (arguments, config, data): never retried. CLI exit 2, HTTP 400. */
export class InputError extends Error {
  override readonly name: string = 'InputError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Something named by the user does not exist (a run id, a lake object). CLI exit 2, HTTP 404. */
export class NotFoundError extends InputError {
  override readonly name = 'NotFoundError';
}

/** A data-quality gate stopped the run before anything was published. */
export class QualityGateError extends Error {
  override readonly name = 'QualityGateError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A failure worth retrying (network, lock, throttling). */
export class TransientError extends Error {
  override readonly name = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One line for a human: the message, without stack or cause chain. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
