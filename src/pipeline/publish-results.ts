import { DEFAULT_ENV } from '../config/index.js';
import { oneLine } from '../errors.js';
import { RESULTS_SCHEMA_VERSION, type AnomalyMessage, type PredictionMessage, type ResultsSink, type RunStateMessage } from '../sinks/index.js';
import type { Logger } from '../observability/index.js';
import type { RunRecord, Store } from '../store/index.js';
import type { RunParams } from './context.js';
import { pipelineTables } from './layout.js';

/** What publishing results needs of a run's services (see RunServices). */
interface ResultsServices {
  store: Store;
  logger?: Logger;
  env?: string;
  resultsSink?: (subjectPrefix: string) => ResultsSink | undefined;
}

/** The sink a run's pipeline publishes its results to, or undefined when it publishes none (or has no bus: logged). */
function sinkOf(services: ResultsServices, run: RunRecord, params: RunParams): ResultsSink | undefined {
  const settings = params.pipeline.publish.bus;
  if (settings === undefined || !settings.enabled) return undefined;
  const sink = services.resultsSink?.(settings.subjectPrefix);
  if (sink === undefined) services.logger?.warn({ runId: run.id, pipeline: run.pipeline }, 'publish.bus is enabled but no bus is configured (bus.url, BUS_URL): results not published');
  return sink;
}

/** A publication that failed after its retries is logged: the run's outcome stays what it is. */
async function published(services: ResultsServices, run: RunRecord, what: string, publish: () => Promise<{ published: number; duplicates: number }>): Promise<void> {
  try {
    const { published, duplicates } = await publish();
    services.logger?.info({ runId: run.id, published, duplicates }, `${what} published on the bus`);
  } catch (error) {
    services.logger?.error({ runId: run.id, error: oneLine(error) }, `${what} not published on the bus`);
  }
}

/**
 * Publishes a run's state change (`runs.started`, `runs.succeeded`, `runs.failed`) when its
 * pipeline has `publish.bus` enabled. Never throws.
 */
export async function publishRunState(services: ResultsServices, run: RunRecord, params: RunParams, event: RunStateMessage['event'], facts: { anomalies?: number; error?: string } = {}): Promise<void> {
  const sink = sinkOf(services, run, params);
  if (sink === undefined) return;
  const message: RunStateMessage = {
    schemaVersion: RESULTS_SCHEMA_VERSION,
    env: services.env ?? DEFAULT_ENV,
    pipeline: run.pipeline,
    run_id: run.id,
    event,
    logical_date: run.logicalDate,
    end_date: run.endDate,
    ...facts,
  };
  await published(services, run, event, () => sink.publishRunState(message));
}

/**
 * Publishes what a succeeded run published to its tables, per date: each anomaly, and each
 * prediction when the pipeline predicts, one message apiece. Never throws.
 */
export async function publishRunFindings(services: ResultsServices, run: RunRecord, params: RunParams, dates: readonly string[]): Promise<void> {
  const sink = sinkOf(services, run, params);
  if (sink === undefined) return;
  const tables = pipelineTables(run.pipeline, params.pipeline);
  const env = services.env ?? DEFAULT_ENV;
  const anomalies: AnomalyMessage[] = [];
  const predictions: PredictionMessage[] = [];
  for (const date of dates) {
    const origin = { schemaVersion: RESULTS_SCHEMA_VERSION, env, pipeline: run.pipeline, run_id: run.id, logical_date: date };
    for (const { runId: _runId, attributes, ...row } of await services.store.listAnomalies(tables.anomaliesTable, date)) {
      anomalies.push({ ...origin, ...row, attributes: attributes ?? null });
    }
    if (params.pipeline.predict === undefined) continue;
    for (const { id, probability, model, features } of await services.store.listPredictions(tables.predictionsTable, date)) {
      predictions.push({ ...origin, id, probability, model, features });
    }
  }
  await published(services, run, 'findings', () => sink.publishFindings({ anomalies, predictions }));
}
