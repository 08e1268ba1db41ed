/** A thread of {@link detectArimaOnThreads}: one detection over the run of entities it was given, then it ends. */
import { parentPort, workerData } from 'node:worker_threads';
import { detectSeries } from './series-detect.js';
import type { SeriesOutcome, SeriesTask } from './series-threads.js';

const { step, table, range } = workerData as SeriesTask;
try {
  parentPort?.postMessage({ ok: true, detection: detectSeries(step, table, range) } satisfies SeriesOutcome);
} catch (error) {
  parentPort?.postMessage({ ok: false, name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) } satisfies SeriesOutcome);
}
