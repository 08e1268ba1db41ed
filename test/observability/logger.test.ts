import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createLogger } from '../../src/observability/index.js';

/** A destination that keeps every JSON line the logger writes. */
function captureLines(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += String(chunk);
      callback();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  const savedLevel = process.env.LOG_LEVEL;
  afterEach(() => {
    if (savedLevel === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = savedLevel;
  });

  it('writes JSON lines in which a child logger stamps runId and step on every line', () => {
    const { stream, lines } = captureLines();
    const logger = createLogger({ level: 'info', destination: stream });
    const runLog = logger.child({ runId: 'run-20010105', step: 'ingest' });
    runLog.info({ rows: 120 }, 'ingested partition');
    runLog.child({ step: 'detect' }).warn('detector saw a short series');
    logger.info('no run here');

    expect(lines()).toEqual([
      expect.objectContaining({ level: 30, runId: 'run-20010105', step: 'ingest', rows: 120, msg: 'ingested partition' }),
      expect.objectContaining({ level: 40, runId: 'run-20010105', step: 'detect', msg: 'detector saw a short series' }),
      expect.objectContaining({ level: 30, msg: 'no run here' }),
    ]);
    expect(lines()[2]).not.toHaveProperty('runId');
  });

  it('takes its level from LOG_LEVEL when none is given', () => {
    process.env.LOG_LEVEL = 'warn';
    const { stream, lines } = captureLines();
    const logger = createLogger({ destination: stream });
    logger.info('dropped');
    logger.warn('kept');
    expect(lines().map((line) => line.msg)).toEqual(['kept']);
  });

  it('defaults to info', () => {
    delete process.env.LOG_LEVEL;
    const { stream, lines } = captureLines();
    const logger = createLogger({ destination: stream });
    logger.debug('dropped');
    logger.info('kept');
    expect(lines().map((line) => line.msg)).toEqual(['kept']);
  });

  it('rejects an unknown level as bad input', () => {
    expect(() => createLogger({ level: 'verbose' })).toThrow(InputError);
    expect(() => createLogger({ level: 'verbose' })).toThrow(/unknown log level "verbose"/);
  });
});
