import { describe, expect, it } from 'vitest';
import { formatTable, Progress, progressBar, StepProgress } from '../../src/cli/format.js';

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

  it('prints plain lines when not on a terminal, and a rewritten bar on one', () => {
    const pipe = stream(false);
    const steps = new StepProgress(pipe.stream);
    steps.update({ step: 'clean', partition: '2024-01-01', status: 'queued' });
    steps.update({ step: 'clean', partition: '2024-01-01', status: 'succeeded' });
    steps.update({ step: 'detect', partition: 'x', status: 'failed', error: 'boom' });
    expect(pipe.chunks).toEqual(['[1/1] clean 2024-01-01 succeeded\n', '[2/1] detect x failed: boom\n']);

    const tty = stream(true);
    const days = new Progress(2, tty.stream);
    days.update('2024-01-01', 'clean');
    days.finishItem('2024-01-01', 'ok');
    expect(tty.chunks[0]).toMatch(/^\r\x1b\[2K\[░+\] \[1\/2\] 2024-01-01 clean$/);
    expect(tty.chunks[1]).toMatch(/^\r\x1b\[2K\[1\/2\] 2024-01-01 ok\n\[█+░+\] 1\/2$/);
  });

  it('aligns tables: first column left, numbers right with thousands separators', () => {
    expect(formatTable(['date', 'rows'], [['2024-01-01', 100000], ['total', 5]])).toBe(
      ['date           rows', '----------  -------', '2024-01-01  100,000', 'total             5'].join('\n'),
    );
  });
});
