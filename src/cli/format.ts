import { sumLabelledIncidents, type RunSummary } from '../pipeline/index.js';
import type { RunRecord } from '../store/index.js';

/** A finished run's wall time in seconds, `-` while it runs. */
export function runSeconds(run: RunRecord): string {
  return run.finishedAt ? ((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(2) : '-';
}

/** Plain-text table for terminal summaries: first column left-aligned (and those in `leftAligned`, e.g. sentences), the others right-aligned. */
export function formatTable(headers: string[], rows: (string | number)[][], leftAligned: readonly number[] = []): string {
  const cells = [headers, ...rows.map((row) => row.map((cell) => (typeof cell === 'number' ? cell.toLocaleString('en-US') : cell)))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => String(row[column]).length)));
  const line = (row: (string | number)[]) =>
    row.map((cell, column) => (column === 0 || leftAligned.includes(column) ? String(cell).padEnd(widths[column]) : String(cell).padStart(widths[column]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/**
 * Where progress goes. Each finished item is a line on stdout: part of the command's record on a
 * terminal, in CI logs and in pipes alike. On a terminal, stderr also shows a live bar, rewritten
 * in place and erased by `end()`, so that a failing command leaves nothing on stderr but its error.
 */
export class ProgressOutput {
  private barShown = false;

  constructor(
    private readonly lines: NodeJS.WritableStream = process.stdout,
    private readonly live: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Prints a finished item's line; the live bar comes back with the next `status`. */
  line(text: string): void {
    this.end();
    this.lines.write(`${text}\n`);
  }

  /** Shows `text` as the live bar, on a terminal only. */
  status(text: string): void {
    if (!this.live.isTTY) return;
    this.end();
    this.live.write(text);
    this.barShown = true;
  }

  /** Erases the live bar: call it when the work is over, failed or not. */
  end(): void {
    if (this.barShown) this.live.write('\r\x1b[2K');
    this.barShown = false;
  }
}

/** Progress over a known number of items, e.g. the dates of a backfill. */
export class Progress {
  private done = 0;

  constructor(
    private readonly total: number,
    private readonly output = new ProgressOutput(),
  ) {}

  finishItem(item: string, status: string): void {
    this.done++;
    this.output.line(`[${this.done}/${this.total}] ${item} ${status}`);
    this.output.status(`${progressBar(this.done, this.total)} ${this.done}/${this.total}`);
  }

  end(): void {
    this.output.end();
  }
}

/** `[██████░░░░]` for `done` of `total`. */
export function progressBar(done: number, total: number, width = 20): string {
  const filled = total === 0 ? 0 : Math.min(width, Math.round((done / total) * width));
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/**
 * Progress of a run's step graph: a line per finished step partition, and on a terminal a live
 * bar over the partitions queued so far.
 */
export class StepProgress {
  private queued = 0;
  private settled = 0;

  constructor(private readonly output = new ProgressOutput()) {}

  update(event: { step: string; partition: string; status: string; error?: string }): void {
    if (event.status === 'queued') {
      this.queued++;
      this.output.status(`${progressBar(this.settled, this.queued)} ${this.settled}/${this.queued} ${event.step} ${event.partition} …`);
      return;
    }
    if (event.status !== 'skipped') this.settled++;
    this.output.line(`[${this.settled}/${this.queued}] ${event.step} ${event.partition} ${event.status}${event.error ? `: ${event.error}` : ''}`);
    this.output.status(`${progressBar(this.settled, this.queued)} ${this.settled}/${this.queued}`);
  }

  end(): void {
    this.output.end();
  }
}

function share(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

/**
 * How the flags of the dates' series detectors compare with their labelled rows (sample data): per
 * kind, the incidents and how many were found; then over all kinds, and the normal rows flagged.
 */
export function labelledIncidentsReport(summaries: readonly RunSummary[]): string {
  const total = sumLabelledIncidents(summaries.flatMap((summary) => Object.values(summary.labelled_incidents ?? {})));
  const kinds = Object.entries(total.by_kind).sort(([a], [b]) => (a < b ? -1 : 1));
  const incidents = kinds.reduce((sum, [, counts]) => sum + counts.incidents, 0);
  const found = kinds.reduce((sum, [, counts]) => sum + counts.found, 0);
  return [
    'labelled incidents found (any of their rows flagged), by kind:',
    formatTable(['kind', 'incidents', 'found', 'recall', 'rows flagged'], kinds.map(([kind, counts]) => [kind, counts.incidents, counts.found, share(counts.found, counts.incidents), share(counts.flagged_rows, counts.rows)])),
    `all kinds: ${found} of ${incidents} found (${share(found, incidents)}); normal rows flagged: ${total.flagged_normal_rows.toLocaleString('en-US')} of ${total.normal_rows.toLocaleString('en-US')} (${share(total.flagged_normal_rows, total.normal_rows)})`,
  ].join('\n');
}
