/**
 * Metrics of every process of a node:cluster (the API's processes sharing one port): any process
 * asked for /metrics answers with all processes' metrics, summed by prom-client's
 * AggregatorRegistry in the primary, which asks each worker for its registry.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { oneLine } from '../errors.js';
import type { Metrics } from './metrics.js';

/** What serves the Prometheus text: one process's metrics or a cluster's. */
export type MetricsSource = Pick<Metrics, 'text' | 'contentType'>;

const REQUEST = 'detour:cluster-metrics-request';
const ANSWER = 'detour:cluster-metrics';

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
}

function isMetricsMessage(message: unknown, type: string): message is MetricsMessage {
  return typeof message === 'object' && message !== null && (message as MetricsMessage).type === type;
}

/** In the cluster's primary: answers its workers' requests for the whole cluster's metrics. */
export function answerClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMetricsMessage(message, REQUEST)) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: message.id, text }),
      (error: unknown) => worker.send({ type: ANSWER, id: message.id, error: oneLine(error) }),
    );
  });
}

/**
 * In a cluster worker: `metrics` join the cluster's (the primary collects them), and the source
 * returned serves every process's metrics, asked of the primary.
 */
export function clusterMetricsSource(metrics: Metrics): MetricsSource {
  // Constructing it registers prom-client's answer to the primary's requests in this worker.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message, ANSWER)) return;
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) request?.reject(new Error(`cluster metrics: ${message.error}`));
    else request?.resolve(message.text ?? '');
  });
  return {
    contentType: metrics.contentType,
    text: () =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        process.send?.({ type: REQUEST, id });
      }),
  };
}
