/** A detector thread of {@link DetectorPool}: runs one detection at a time, off the server's event loop. */
import { parentPort } from 'node:worker_threads';
import { detectRecordColumns, detectSeries, type Verdicts } from '../detectors/index.js';
import type { DetectTask, TaskOutcome } from './detect-pool.js';

function run(task: DetectTask): Verdicts {
  return task.kind === 'series'
    ? detectSeries(task.detector, task.timestampsMs, task.values, task.params)
    : detectRecordColumns(task.detector, task.columns, task.features, task.params);
}

parentPort?.on('message', (task: DetectTask) => {
  let outcome: TaskOutcome;
  try {
    outcome = { ok: true, verdicts: run(task) };
  } catch (error) {
    outcome = { ok: false, name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) };
  }
  parentPort?.postMessage(outcome);
});
