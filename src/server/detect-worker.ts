/** A detector thread of {@link DetectorPool}: runs one detection at a time, off the server's event loop. */
import { parentPort } from 'node:worker_threads';
import { detectRecordColumns, detectSeries, type Verdicts } from '../detectors/index.js';
import type { DetectTask, TaskOutcome } from './detect-pool.js';

function run(task: DetectTask): Verdicts {
  return task.kind === 'series'
    ? detectSeries(task.detector, task.timestampsMs, task.values, task.params)
    : detectRecordColumns(task.detector, task.columns, task.features, task.params);
}

/** The verdicts' buffers, handed over rather than copied: this thread does not use them again. */
function buffersOf(verdicts: Verdicts): ArrayBuffer[] {
  const arrays = [verdicts.anomalous, verdicts.score, verdicts.value, verdicts.expected, verdicts.lower, verdicts.upper, verdicts.feature];
  return [...new Set(arrays.map((array) => array.buffer as ArrayBuffer))];
}

parentPort?.on('message', (task: DetectTask) => {
  try {
    const verdicts = run(task);
    parentPort?.postMessage({ ok: true, verdicts } satisfies TaskOutcome, buffersOf(verdicts));
  } catch (error) {
    parentPort?.postMessage({ ok: false, name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) } satisfies TaskOutcome);
  }
});
