import type { z } from 'zod';
import { oneLine } from '../errors.js';
import { withRetries, type RetryPolicy } from '../retry.js';
import {
  AnomalyMessageSchema,
  findingMessageId,
  PredictionMessageSchema,
  resultSubjects,
  runStateMessageId,
  RunStateMessageSchema,
  type AnomalyMessage,
  type PredictionMessage,
  type PublishedCount,
  type ResultsSink,
  type RunFindings,
  type RunStateMessage,
} from './results.js';

/** A kind of message as a bus takes it (the shape of the bus's `Topic`): subject, schema, id. */
interface ResultTopic<Message> {
  subject: string;
  schema: z.ZodType<Message>;
  messageId: (message: Message) => string;
}

/** What the sink needs of a bus: publishing a batch of one topic, ids de-duplicated by the server. */
export interface TopicPublisher {
  readonly description: string;
  publishMany<Message>(topic: ResultTopic<Message>, messages: readonly Message[]): Promise<PublishedCount>;
}

export interface BusResultsSinkOptions {
  /** Connects to the bus (or hands over the connection already open); called again after a failed attempt. */
  connect: () => Promise<TopicPublisher>;
  /** Where the bus is, for messages before it is reached. */
  description: string;
  /** How often and how patiently a batch is tried when the bus does not take it; default 4 retries from 500 ms, at most 10 s apart. */
  retry?: RetryPolicy;
  /** Hears of each failed attempt before the next one. */
  onRetry?: (info: { attempt: number; error: string; delayMs: number }) => void;
}

const DEFAULT_RETRY: RetryPolicy = { retries: 4, backoff: { initialDelayMs: 500, maxDelayMs: 10_000 } };

/** Groups messages by the subject they go to, keeping their order. */
function bySubject<Message>(messages: readonly Message[], subjectOf: (message: Message) => string): Map<string, Message[]> {
  const groups = new Map<string, Message[]>();
  for (const message of messages) {
    const subject = subjectOf(message);
    const group = groups.get(subject);
    if (group === undefined) groups.set(subject, [message]);
    else group.push(message);
  }
  return groups;
}

/**
 * Publishes a run's results on a message bus (NATS JetStream through `EventBus.publishMany`): each
 * finding on `<env>.<pipeline>.anomalies` or `.predictions` and each run state change on
 * `<env>.runs`, under the bus's subject prefix, keyed so that the server drops a repeat. A batch the
 * bus does not take (unreachable, timed out) is tried again whole, with backoff: the messages that
 * got through the first time are dropped as duplicates.
 *
 * @example
 * ```ts
 * const sink = new BusResultsSink({ connect: () => app.bus(), description: 'nats://127.0.0.1:4222' });
 * await sink.publishRunState({ schemaVersion: RESULTS_SCHEMA_VERSION, env: 'prod', pipeline: 'rides', run_id, event: 'runs.started', logical_date, end_date });
 * ```
 */
export class BusResultsSink implements ResultsSink {
  readonly description: string;
  readonly #options: BusResultsSinkOptions;

  constructor(options: BusResultsSinkOptions) {
    this.#options = options;
    this.description = options.description;
  }

  async publishFindings(findings: RunFindings): Promise<PublishedCount> {
    const anomalies = bySubject(findings.anomalies, (message) => resultSubjects.anomalies(message.env, message.pipeline));
    const predictions = bySubject(findings.predictions, (message) => resultSubjects.predictions(message.env, message.pipeline));
    const batches = [
      ...[...anomalies].map(([subject, messages]) => this.#send<AnomalyMessage>({ subject, schema: AnomalyMessageSchema, messageId: (message) => findingMessageId('anomalies', message) }, messages)),
      ...[...predictions].map(([subject, messages]) => this.#send<PredictionMessage>({ subject, schema: PredictionMessageSchema, messageId: (message) => findingMessageId('predictions', message) }, messages)),
    ];
    const counts = await Promise.all(batches);
    return { published: counts.reduce((sum, count) => sum + count.published, 0), duplicates: counts.reduce((sum, count) => sum + count.duplicates, 0) };
  }

  publishRunState(message: RunStateMessage): Promise<PublishedCount> {
    return this.#send({ subject: resultSubjects.runs(message.env), schema: RunStateMessageSchema, messageId: runStateMessageId }, [message]);
  }

  async #send<Message>(topic: ResultTopic<Message>, messages: readonly Message[]): Promise<PublishedCount> {
    if (messages.length === 0) return { published: 0, duplicates: 0 };
    const { value } = await withRetries(async () => (await this.#options.connect()).publishMany(topic, messages), this.#options.retry ?? DEFAULT_RETRY, {
      onRetry: ({ attempt, error, delayMs }) => this.#options.onRetry?.({ attempt, error: oneLine(error), delayMs }),
    });
    return value;
  }
}
