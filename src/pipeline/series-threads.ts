/**
 * ARIMA's fits of a shard's entities spread over the machine's cores: the entities (in name order,
 * as ARIMA visits them) cut into contiguous runs, the first fitted on this thread and each other on
 * a worker thread of its own, the findings joined back in that order: the same output as one thread.
 */
import os from 'node:os';
import type { DetectStepConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { startModuleThread } from '../threads.js';
import { rowsByEntity, tableRows, type SeriesTable } from './entity-rows.js';
import { mergeForecastErrors } from './forecast-errors.js';
import { detectSeries, supportedRows, type SeriesDetection } from './series-detect.js';

type ArimaStep = Extract<DetectStepConfig, { detector: 'arima' }>;

/** What a series thread is given: one step over a run of entities. */
export interface SeriesTask {
  step: ArimaStep;
  table: SeriesTable;
  range: { from: string; to: string; windowStart: string };
}

/** What it answers: the detection, or the error's name and message (an InputError stays one). */
export type SeriesOutcome = { ok: true; detection: SeriesDetection } | { ok: false; name: string; message: string };

/** Below this many entities per thread, starting a thread (it loads the detectors) costs more than it saves. */
const MIN_ENTITIES_PER_THREAD = 24;

function detectOnThread(task: SeriesTask): Promise<SeriesDetection> {
  return new Promise((resolve, reject) => {
    const thread = startModuleThread(import.meta.url, './series-worker', { workerData: task });
    thread.once('message', (outcome: SeriesOutcome) => {
      if (outcome.ok) resolve(outcome.detection);
      else reject(outcome.name === 'InputError' ? new InputError(outcome.message) : new Error(outcome.message));
    });
    thread.once('error', reject);
    thread.once('exit', (code) => reject(new Error(`series thread exited with code ${code} before answering`)));
  });
}

/**
 * {@link detectSeries} for an ARIMA step, on as many threads as the machine has cores and the
 * entities fill (at least {@link MIN_ENTITIES_PER_THREAD} each): findings and skipped entities are
 * those of one thread, in the same order; forecast errors their sums (each thread's added first, so
 * equal to one thread's up to rounding).
 */
export async function detectArimaOnThreads(step: ArimaStep, table: SeriesTable, range: SeriesTask['range']): Promise<SeriesDetection> {
  const supported = supportedRows(step, table);
  const entities = [...rowsByEntity(supported.table).values()];
  const threads = Math.min(os.availableParallelism(), Math.floor(entities.length / MIN_ENTITIES_PER_THREAD));
  if (threads < 2) return detectSeries(step, table, range);
  const [own, ...others] = Array.from({ length: threads }, (_, part) =>
    tableRows(supported.table, entities.slice(Math.floor((part * entities.length) / threads), Math.floor(((part + 1) * entities.length) / threads)).flat()),
  );
  const pending = others.map((part) => detectOnThread({ step, table: part, range }));
  let ownDetection: SeriesDetection;
  try {
    ownDetection = detectSeries(step, own, range);
  } catch (error) {
    await Promise.allSettled(pending);
    throw error;
  }
  const detections = [ownDetection, ...(await Promise.all(pending))];
  return {
    findings: detections.flatMap(({ findings }) => findings),
    skipped: [...supported.skipped, ...detections.flatMap(({ skipped }) => skipped)],
    forecasts: mergeForecastErrors(detections.flatMap(({ forecasts }) => forecasts ?? [])),
  };
}
