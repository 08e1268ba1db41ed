/**
 * Metrics of a group of processes serving together (`detour serve` on several cores): whichever
 * process is scraped answers with every process's metrics, summed by prom-client's
 * AggregatorRegistry in the first process, which asks each of the others for its registry over IPC.
 */
import type { ChildProcess } from 'node:child_process';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { oneLine } from '../errors.js';
import type { Metrics } from './metrics.js';

/** What serves the Prometheus text: one process's metrics or a group's. */
export type MetricsSource = Pick<Metrics, 'text' | 'contentType'>;

type RegistryJson = MetricObjectWithValues<MetricValue<string>>[];

/** IPC message types: a registry asked for and given (first → other → first), the group's text asked for and given (other → first → other). */
const ASK_REGISTRY = 'detour:metrics-registry?';
const REGISTRY = 'detour:metrics-registry';
const ASK_TEXT = 'detour:metrics-text?';
const TEXT = 'detour:metrics-text';

/** A process that does not answer within this long (exiting, say) is left out of a scrape. */
const ANSWER_MS = 2_000;

interface MetricsMessage {
  type: string;
  id: number;
  registry?: RegistryJson;
  text?: string;
  error?: string;
}

function messageOf(message: unknown, type: string): MetricsMessage | undefined {
  return typeof message === 'object' && message !== null && (message as MetricsMessage).type === type ? (message as MetricsMessage) : undefined;
}

/** In the first process: its own metrics and those of every process added. */
export class GroupMetrics implements MetricsSource {
  private readonly others = new Map<ChildProcess, Map<number, (registry: RegistryJson) => void>>();
  private nextId = 0;

  constructor(private readonly own: Metrics) {}

  get contentType(): string {
    return this.own.contentType;
  }

  /** A process of the group: its registry joins every scrape, and its own scrapes are answered. */
  add(other: ChildProcess): void {
    const waiting = new Map<number, (registry: RegistryJson) => void>();
    this.others.set(other, waiting);
    other.on('message', (message: unknown) => {
      const answer = messageOf(message, REGISTRY);
      if (answer !== undefined) {
        waiting.get(answer.id)?.(answer.registry ?? []);
        waiting.delete(answer.id);
      }
      const question = messageOf(message, ASK_TEXT);
      if (question === undefined) return;
      this.text().then(
        (text) => other.send({ type: TEXT, id: question.id, text }),
        (error: unknown) => other.send({ type: TEXT, id: question.id, error: oneLine(error) }),
      );
    });
    other.once('exit', () => {
      for (const resolve of waiting.values()) resolve([]);
      this.others.delete(other);
    });
  }

  async text(): Promise<string> {
    const registries = await Promise.all([this.own.registry.getMetricsAsJSON(), ...[...this.others].map(([other, waiting]) => this.registryOf(other, waiting))]);
    return AggregatorRegistry.aggregate(registries).metrics();
  }

  private registryOf(other: ChildProcess, waiting: Map<number, (registry: RegistryJson) => void>): Promise<RegistryJson> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve([]), ANSWER_MS);
      waiting.set(id, (registry) => {
        clearTimeout(timer);
        resolve(registry);
      });
      other.send({ type: ASK_REGISTRY, id });
    });
  }
}

/** In another process of the group: answers the first's requests for `own`, and serves the group's metrics, asked of the first. */
export function groupMemberMetrics(own: Metrics): MetricsSource {
  const waiting = new Map<number, { resolve(text: string): void; reject(error: Error): void }>();
  let nextId = 0;
  process.on('message', (message: unknown) => {
    const question = messageOf(message, ASK_REGISTRY);
    if (question !== undefined) void own.registry.getMetricsAsJSON().then((registry) => process.send?.({ type: REGISTRY, id: question.id, registry }));
    const answer = messageOf(message, TEXT);
    if (answer === undefined) return;
    const request = waiting.get(answer.id);
    waiting.delete(answer.id);
    if (answer.error !== undefined) request?.reject(new Error(`metrics of the serving processes: ${answer.error}`));
    else request?.resolve(answer.text ?? '');
  });
  return {
    contentType: own.contentType,
    text: () =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve, reject });
        process.send?.({ type: ASK_TEXT, id });
      }),
  };
}
