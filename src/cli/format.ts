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
 * Progress of a multi-stage batch (clean, check, detect, publish over many dates): a line per stage
 * change, and on a terminal the current item rewritten in place.
 */
export class StageProgress {
  private stage: string | undefined;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(item: string, stage: string): void {
    if (stage !== this.stage) {
      if (this.stage !== undefined && this.stream.isTTY) this.stream.write('\n');
      this.stage = stage;
      if (!this.stream.isTTY) this.stream.write(`${stage} ${item}\n`);
    }
    if (this.stream.isTTY) this.stream.write(`\r\x1b[2K${stage} ${item}`);
  }

  done(): void {
    if (this.stage !== undefined && this.stream.isTTY) this.stream.write('\n');
  }
}
