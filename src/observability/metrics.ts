import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsOptions {
  /**
   * Jobs per queue state (`waiting`, `active`, `failed`, …), asked for at every scrape so the gauge
   * is never stale. When it fails, the gauge is left empty for that scrape and
   * `detour_queue_depth_errors_total` goes up, rather than failing the whole scrape.
   */
  queueDepth?: () => Promise<Record<string, number>>;
}

/** Step durations range from a quick SQL query to a long model fit; buckets in seconds. */
const STEP_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/**
 * detour's Prometheus metrics, on a registry of their own: two instances (say, in tests) never
 * clash, and nothing another library puts on prom-client's global registry leaks into ours.
 *
 * @example
 * ```ts
 * const metrics = new Metrics({ queueDepth: () => queue.counts() });
 * const endTimer = metrics.stepDuration.startTimer({ pipeline: 'flights', step: 'detect' });
 * metrics.rowsProcessed.inc({ pipeline: 'flights', step: 'detect' }, rows.length);
 * endTimer();
 * metrics.runsTotal.inc({ pipeline: 'flights', status: 'succeeded' });
 * ```
 */
export class Metrics {
  readonly registry = new Registry();
  /** Finished runs by pipeline and final status (`succeeded`, `failed`, …). */
  readonly runsTotal: Counter<'pipeline' | 'status'>;
  /** Wall-clock seconds per step. */
  readonly stepDuration: Histogram<'pipeline' | 'step'>;
  /** Rows a step read or wrote. */
  readonly rowsProcessed: Counter<'pipeline' | 'step'>;
  /** Retries of a step after a transient failure (the first attempt is not counted). */
  readonly stepRetries: Counter<'pipeline' | 'step'>;
  /** Jobs per queue state, filled from `options.queueDepth` at scrape time. */
  readonly queueDepth: Gauge<'state'>;
  /** Scrapes whose `queueDepth` callback failed. */
  readonly queueDepthErrors: Counter;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.runsTotal = new Counter({
      name: 'detour_runs_total',
      help: 'Finished pipeline runs by final status.',
      labelNames: ['pipeline', 'status'],
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'detour_step_duration_seconds',
      help: 'Duration of pipeline steps in seconds.',
      labelNames: ['pipeline', 'step'],
      buckets: STEP_DURATION_BUCKETS,
      registers,
    });
    this.rowsProcessed = new Counter({
      name: 'detour_rows_processed_total',
      help: 'Rows processed by pipeline steps.',
      labelNames: ['pipeline', 'step'],
      registers,
    });
    this.stepRetries = new Counter({
      name: 'detour_step_retries_total',
      help: 'Retries of pipeline steps after transient failures.',
      labelNames: ['pipeline', 'step'],
      registers,
    });
    const readQueueDepth = options.queueDepth;
    // The registry collects all metrics concurrently; the error counter waits for this scrape's
    // queue read (started first, since the gauge is registered first) so it counts that read too.
    let queueRead: Promise<void> = Promise.resolve();
    this.queueDepth = new Gauge({
      name: 'detour_queue_depth',
      help: 'Jobs in the run queue by state.',
      labelNames: ['state'],
      registers,
      // Every process serving together reads the same queue: summing their readings would count it twice.
      aggregator: 'max',
      collect() {
        if (readQueueDepth === undefined) return;
        queueRead = (async () => {
          try {
            const depths = await readQueueDepth();
            // A state that emptied or vanished must not keep its last value.
            this.reset();
            for (const [state, depth] of Object.entries(depths)) this.set({ state }, depth);
          } catch {
            // An unreachable queue backend should not take the run and process metrics down with
            // it; its series disappear for this scrape instead of showing stale depths.
            this.reset();
            queueDepthErrors.inc();
          }
        })();
        return queueRead;
      },
    });
    const queueDepthErrors = new Counter({
      name: 'detour_queue_depth_errors_total',
      help: 'Scrapes at which the queue depth could not be read.',
      registers,
      collect: () => queueRead,
    });
    this.queueDepthErrors = queueDepthErrors;
    collectDefaultMetrics({ register: this.registry, prefix: 'detour_' });
  }

  /** The Content-Type header to serve `text()` with. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** All metrics in the Prometheus text exposition format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
