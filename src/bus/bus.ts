import { z } from 'zod';
import { isIsoDate } from '../dates.js';

/**
 * A kind of message: its subject under the bus's prefix and its payload's schema (every delivery
 * is parsed through it). With `messageId`, publishing the same message again within the bus's
 * duplicate window is dropped by the server, so a retried or repeated publish delivers once.
 */
export interface Topic<Message> {
  readonly subject: string;
  readonly schema: z.ZodType<Message>;
  readonly messageId?: (message: Message) => string;
}

/** A file landed in the lake's bronze zone: its partition (dataset, date), its key and its content's sha256. */
export interface LandedEvent {
  dataset: string;
  date: string;
  key: string;
  sha256: string;
}

const LandedEventSchema: z.ZodType<LandedEvent> = z
  .object({
    dataset: z.string().regex(/^[a-z][a-z0-9_]*$/),
    date: z.string().refine(isIsoDate, 'must be a YYYY-MM-DD date'),
    key: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

/** `lake.landed`: one message per landed file, de-duplicated by key and content. */
export const LANDED: Topic<LandedEvent> = {
  subject: 'lake.landed',
  schema: LandedEventSchema,
  messageId: (event) => `${event.key}@${event.sha256}`,
};

/**
 * An S3 event notification as AWS and MinIO send it: records naming the bucket and the object
 * (its key URL-encoded, spaces as `+`). Fields detour does not read are let through unchecked.
 */
export interface StorageEvent {
  Records: { eventName: string; s3: { bucket: { name: string }; object: { key: string } } }[];
}

const StorageEventSchema: z.ZodType<StorageEvent> = z.object({
  Records: z.array(z.object({ eventName: z.string(), s3: z.object({ bucket: z.object({ name: z.string() }), object: z.object({ key: z.string() }) }) })),
});

/** `storage.events`: storage notifications (MinIO's NATS target, or a bridge from S3's own), as they come. */
export const STORAGE_EVENTS: Topic<StorageEvent> = { subject: 'storage.events', schema: StorageEventSchema };

/** One delivery of a message to a consumer. */
export interface Delivery<Message> {
  message: Message;
  /** 1 the first time; more when it comes again (a failed attempt, or a consumer that died holding it). */
  attempt: number;
  /** True when the bus will not deliver it again should this attempt fail. */
  lastAttempt: boolean;
}

/** What a consumer made of a delivery: done (never delivered again), to be tried again after a delay, or dropped for good. */
export type Settlement = { outcome: 'done' } | { outcome: 'retry'; delayMs: number } | { outcome: 'drop'; reason: string };

/** A running consumer; `stop()` lets the message in hand finish and settle first. */
export interface BusConsumer {
  stop(): Promise<void>;
}

export interface ConsumeOptions {
  /** A handler that throws has its message tried again after this long; default 1 s. */
  retryDelayMs?: number;
  /** Hears of a handler that threw, and of a message whose payload does not fit its topic (which is dropped). */
  onError?: (error: unknown) => void;
}

/**
 * Durable messages between processes: the NATS JetStream adapter today (nats-bus.ts); another
 * broker is another adapter of this interface. Delivery is at least once: a consumer settles each
 * message after handling it, and one that dies first gets it delivered again, so handlers are
 * written to be idempotent.
 */
export interface EventBus {
  /** Where it is connected, safe to print: `nats://host:4222 (stream DETOUR, subjects detour.>)`. */
  readonly description: string;
  /** Publishes a message; `duplicate` when the server already had one with its id (see Topic.messageId). */
  publish<Message>(topic: Topic<Message>, message: Message): Promise<{ duplicate: boolean }>;
  /**
   * Publishes many messages of one topic, not waiting for each acknowledgement before sending the
   * next (a bounded window of them in flight), and resolves once the server stored them all.
   * Throws when any publish failed; publishing the batch again is safe when the topic has ids.
   */
  publishMany<Message>(topic: Topic<Message>, messages: readonly Message[]): Promise<{ published: number; duplicates: number }>;
  /**
   * Hands the messages of `topic` to `handle` one at a time, through a durable consumer named
   * `name` that remembers what was settled across restarts (messages published while no one
   * consumed are delivered once it starts). While `handle` runs the bus tells the server the
   * message is being worked on; a process that dies meanwhile leaves it to be delivered again.
   */
  consume<Message>(topic: Topic<Message>, name: string, handle: (delivery: Delivery<Message>) => Promise<Settlement>, options?: ConsumeOptions): Promise<BusConsumer>;
  /**
   * Removes what this bus's namespace holds on the server (see NatsBusOptions.namespace): its
   * messages and its durable consumers, nothing of other namespaces. A bus without a namespace
   * refuses (InputError): its subjects are not apart from every other's.
   */
  removeNamespace(): Promise<{ messages: number; consumers: number }>;
  /** Stops consumers and closes the connection. */
  close(): Promise<void>;
}
