import { pino, type DestinationStream, type Logger } from 'pino';
import { InputError } from '../errors.js';

export type { Logger } from 'pino';

export interface CreateLoggerOptions {
  /** A pino level (`fatal` … `trace`, or `silent`); default `LOG_LEVEL` from the environment, else `info`. */
  level?: string;
  /** A stream or file descriptor to write JSON lines to; default stderr (fd 2). */
  destination?: NodeJS.WritableStream | number;
}

const LEVELS = [...Object.keys(pino.levels.values), 'silent'];

/**
 * Creates detour's structured logger: one JSON object per line, to stderr by default so that a
 * CLI command's stdout carries only its result and can be piped.
 *
 * Give each run and step its own child, so that every line it writes carries their ids and a
 * log search for one run finds all of it:
 *
 * @example
 * ```ts
 * const logger = createLogger();
 * const stepLog = logger.child({ runId: run.id, step: 'detect' });
 * stepLog.info({ rows: 1200 }, 'detector finished');
 * // {"level":30,"time":…,"runId":"…","step":"detect","rows":1200,"msg":"detector finished"}
 * ```
 *
 * @throws InputError when the level (given or from `LOG_LEVEL`) is not a pino level.
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const level = (options.level ?? process.env.LOG_LEVEL ?? '').trim() || 'info';
  if (!LEVELS.includes(level)) {
    throw new InputError(`unknown log level "${level}"; use one of ${LEVELS.join(', ')}`);
  }
  const destination = options.destination ?? 2;
  // Synchronous writes to a file descriptor: a CLI that exits right after an error still flushes it.
  const stream: DestinationStream =
    typeof destination === 'number' ? pino.destination({ dest: destination, sync: true }) : (destination as DestinationStream);
  return pino({ level, base: undefined }, stream);
}
