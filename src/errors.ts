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
  override readonly name: string = 'TransientError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A service detour depends on stayed unreachable for longer than detour waits for it (see
 * `liveness.outageSeconds`). Infrastructure, not bad input: CLI exit 1, and the message says what
 * to do.
 */
export class UnavailableError extends TransientError {
  override readonly name = 'UnavailableError';
  constructor(
    /** Which service: 'PostgreSQL' or 'Redis'. */
    readonly service: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Longest error line detour prints or stores: `detour: ` and the line fit in 300 characters. */
export const ERROR_LINE_MAX = 290;

/**
 * Text as one printable line of at most `maxLength` characters: line breaks and tabs become
 * spaces, other control characters are escaped as `\xNN` (NUL among them, which PostgreSQL
 * refuses in text, and which a UTF-16 file read as UTF-8 is full of), and a longer text is cut
 * with `…`.
 */
export function printableLine(text: string, maxLength = ERROR_LINE_MAX): string {
  const line = text
    .replace(/\s*[\n\r\u2028\u2029]+\s*/g, ' ')
    .replace(/[\t\v\f]/g, ' ')
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .trim();
  if (line.length <= maxLength) return line;
  // Never end inside an escape or between the halves of a surrogate pair.
  return `${line.slice(0, maxLength - 1).replace(/\\(x[0-9a-f]?)?$|[\ud800-\udbff]$/, '')}…`;
}

/** One line for a human: the message, without stack or cause chain, as {@link printableLine} makes it. */
export function oneLine(error: unknown, maxLength = ERROR_LINE_MAX): string {
  return printableLine(error instanceof Error ? error.message : String(error), maxLength);
}
