import { describe, expect, it } from 'vitest';
import { formatTable, Progress, progressBar, ProgressOutput, StepProgress } from '../../src/cli/format.js';

/** A stream that records what is written, as a terminal (isTTY) or a pipe. */
function stream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (chunk: string) => chunks.push(chunk) } as unknown as NodeJS.WriteStream };
}

describe('terminal output', () => {
  it.each([
    [0, 10, '[░░░░░░░░░░]'],
    [5, 10, '[█████░░░░░]'],
    [10, 10, '[██████████]'],
    [0, 0, '[░░░░░░░░░░]'],
  ])('draws %i of %i as %s', (done, total, bar) => {
    expect(progressBar(done, total, 10)).toBe(bar);
  });

  it('prints finished items as lines on stdout; a terminal also gets a live bar on stderr, erased at the end', () => {
    const [pipeOut, pipeErr] = [stream(false), stream(false)];
    const steps = new StepProgress(new ProgressOutput(pipeOut.stream, pipeErr.stream));
    steps.update({ step: 'clean', partition: '2024-01-01', status: 'queued' });
    steps.update({ step: 'clean', partition: '2024-01-01', status: 'succeeded' });
    steps.update({ step: 'detect', partition: 'x', status: 'failed', error: 'boom' });
    steps.end();
    expect(pipeOut.chunks).toEqual(['[1/1] clean 2024-01-01 succeeded\n', '[2/1] detect x failed: boom\n']);
    expect(pipeErr.chunks).toEqual([]);

    const [ttyOut, ttyErr] = [stream(true), stream(true)];
    const days = new Progress(2, new ProgressOutput(ttyOut.stream, ttyErr.stream));
    days.finishItem('2024-01-01', 'ok');
    days.finishItem('2024-01-02', 'failed: boom');
    days.end();
    expect(ttyOut.chunks).toEqual(['[1/2] 2024-01-01 ok\n', '[2/2] 2024-01-02 failed: boom\n']);
    expect(ttyErr.chunks.join('')).toMatch(/^\[█+░+\] 1\/2\r\x1b\[2K\[█+\] 2\/2\r\x1b\[2K$/);
  });

  it('aligns tables: first column left, numbers right with thousands separators', () => {
    expect(formatTable(['date', 'rows'], [['2024-01-01', 100000], ['total', 5]])).toBe(
      ['date           rows', '----------  -------', '2024-01-01  100,000', 'total             5'].join('\n'),
    );
  });
});
