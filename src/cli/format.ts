/** Plain-text table for terminal summaries: first column left-aligned, the others right-aligned. */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : cell)))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => String(row[column]).length)));
  const line = (row: (string | number)[]) =>
    row.map((cell, column) => (column === 0 ? String(cell).padEnd(widths[column]) : String(cell).padStart(widths[column]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/**
 * Progress over a known number of items: one rewritten status line on a terminal, plain
 * lines otherwise (CI logs, pipes).
 */
export class Progress {
  private done = 0;

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(item: string, status: string): void {
    const text = `[${this.done + 1}/${this.total}] ${item} ${status}`;
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${text}`);
    else this.stream.write(`${text}\n`);
  }

  finishItem(item: string, status: string): void {
    this.done++;
    const text = `[${this.done}/${this.total}] ${item} ${status}`;
    this.stream.write(this.stream.isTTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }
}

/**
 * Progress of a run's step graph: a line per finished step partition, plus on a terminal a
 * rewritten status line with the count of partitions done.
 */
export class StepProgress {
  private queued = 0;
  private settled = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(event: { step: string; partition: string; status: string; error?: string }): void {
    if (event.status === 'queued') {
      this.queued++;
      if (this.stream.isTTY) this.stream.write(`\r\x1b[2K[${this.settled}/${this.queued}] ${event.step} ${event.partition} …`);
      return;
    }
    if (event.status !== 'skipped') this.settled++;
    const text = `[${this.settled}/${this.queued}] ${event.step} ${event.partition} ${event.status}${event.error ? `: ${event.error}` : ''}`;
    this.stream.write(this.stream.isTTY ? `\r\x1b[2K${text}\n` : `${text}\n`);
  }
}
