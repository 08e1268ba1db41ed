/** Runs the API started and answered 202 for: executing in this process (or on workers), awaited at shutdown. */
import { oneLine } from '../errors.js';
import type { Logger } from '../observability/index.js';
import type { RunServices, SubmittedRun } from '../pipeline/index.js';
import type { RunRecord } from '../store/index.js';

export class BackgroundRuns {
  private readonly running = new Set<Promise<void>>();
  private services: Promise<RunServices> | undefined;

  constructor(
    private readonly openServices: () => Promise<RunServices>,
    private readonly logger: Logger,
  ) {}

  /** Submits a run with `start` and returns it as recorded; its outcome is logged when it ends. */
  async submit(start: (services: RunServices) => Promise<SubmittedRun>): Promise<RunRecord> {
    this.services ??= this.openServices();
    const { run, finished } = await start(await this.services);
    const settled = finished.then(
      (result) => this.logger.info({ runId: run.id, pipeline: run.pipeline, status: result.run.status }, 'run started through the API finished'),
      (error: unknown) => this.logger.warn({ runId: run.id, pipeline: run.pipeline, error: oneLine(error) }, 'run started through the API failed'),
    );
    this.track(settled);
    return run;
  }

  /**
   * Runs `work` (runs one after another, a backfill) in the background; its outcome is logged as
   * `what` when it ends, and shutdown waits for it as for a submitted run.
   */
  start(what: string, work: (services: RunServices) => Promise<unknown>): void {
    this.services ??= this.openServices();
    const settled = this.services.then(work).then(
      () => this.logger.info({ work: what }, 'work started through the API finished'),
      (error: unknown) => this.logger.warn({ work: what, error: oneLine(error) }, 'work started through the API failed'),
    );
    this.track(settled);
  }

  private track(settled: Promise<void>): void {
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
  }

  /** Resolves once every run submitted here has ended. */
  async settle(): Promise<void> {
    await Promise.all(this.running);
  }
}
