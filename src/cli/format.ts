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
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${progressBar(this.done, this.total)} ${text}`);
    else this.stream.write(`${text}\n`);
  }

  finishItem(item: string, status: string): void {
    this.done++;
    const text = `[${this.done}/${this.total}] ${item} ${status}`;
    this.stream.write(this.stream.isTTY ? `\r\x1b[2K${text}\n${progressBar(this.done, this.total)} ${this.done}/${this.total}` : `${text}\n`);
  }
}

/** `[██████░░░░]` for `done` of `total`. */
export function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? 0 : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/**
 * Progress of a run's step graph: a line per finished step partition, plus on a terminal a
 * progress bar over the partitions queued so far, rewritten in place.
 */
export class StepProgress {
  private queued = 0;
  private settled = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(event: { step: string; partition: string; status: string; error?: string }): void {
    if (event.status === 'queued') {
      this.queued++;
      if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${progressBar(this.settled, this.queued)} ${this.settled}/${this.queued} ${event.step} ${event.partition} …`);
      return;
    }
    if (event.status !== 'skipped') this.settled++;
    const text = `[${this.settled}/${this.queued}] ${event.step} ${event.partition} ${event.status}${event.error ? `: ${event.error}` : ''}`;
    if (!this.stream.isTTY) {
      this.stream.write(`${text}\n`);
      return;
    }
    this.stream.write(`\r\x1b[2K${text}\n${progressBar(this.settled, this.queued)} ${this.settled}/${this.queued}`);
  }
}
