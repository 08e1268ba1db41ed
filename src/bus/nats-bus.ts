import { setTimeout as sleep } from 'node:timers/promises';
import { AckPolicy, DeliverPolicy, jetstream, JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect, createInbox, headers, nanos, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { InputError, oneLine, TransientError, UnavailableError } from '../errors.js';
import type { BusConsumer, ConsumeOptions, Delivery, EventBus, Settlement, Topic } from './bus.js';

export interface NatsBusOptions {
  /** `nats://host:4222` */
  url: string;
  /** The JetStream stream that keeps detour's messages, created when missing. */
  stream: string;
  /** Every subject is `<subjectPrefix>.<topic subject>`; the stream takes `<subjectPrefix>.>`. */
  subjectPrefix: string;
  /** A delivered message not settled this long (its consumer died) is delivered again. */
  ackWaitMs: number;
  maxDeliveries: number;
  /** The server drops a message whose id it saw this recently. */
  duplicateWindowMs: number;
  /**
   * An environment's own part of the stream: subjects `<subjectPrefix>.<namespace>.<topic>` and
   * durable consumers named `<namespace>_<name>`, so environments sharing a server never see each
   * other's messages. Unset: `<subjectPrefix>.<topic>`, consumers by their own name.
   */
  namespace?: string;
}

/** Messages in flight at once in publishMany: enough to keep the connection busy, few enough to bound memory. */
const PUBLISH_WINDOW = 32_768;
/** publishMany gives up (TransientError) when no acknowledgement came for this long. */
const ACK_IDLE_TIMEOUT_MS = 10_000;

/** How long the stream keeps a message, settled or not. */
const STREAM_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** How long one pull waits for a message: also how long `stop()` may wait for an idle consumer. */
const PULL_EXPIRES_MS = 1_000;
const CONNECT_TIMEOUT_MS = 5_000;

const isApiError = (error: unknown, code: number) => error instanceof JetStreamApiError && error.code === code;

/** A JetStream publish acknowledgement: stored (a duplicate or not), or why not: no stream takes the subject (503), or the stream refused it. */
function readPublishAck(reply: Msg, subject: string): { duplicate: boolean } | Error {
  if (reply.headers?.hasError) {
    return reply.headers.code === 503 ? new InputError(`no JetStream stream takes ${subject}`) : new TransientError(`NATS refused a message on ${subject}: ${reply.headers.code} ${reply.headers.description}`);
  }
  const ack = reply.json() as { duplicate?: boolean; error?: { code: number; description: string } };
  return ack.error === undefined ? { duplicate: ack.duplicate === true } : new TransientError(`JetStream refused a message on ${subject}: ${ack.error.description} (${ack.error.code})`);
}

/** Creates the stream, or adds the prefix's subjects to a stream of that name made for others. */
async function ensureStream(manager: JetStreamManager, options: NatsBusOptions): Promise<void> {
  const subjects = `${options.subjectPrefix}.>`;
  try {
    const { config } = await manager.streams.info(options.stream);
    if (!config.subjects.includes(subjects)) await manager.streams.update(options.stream, { subjects: [...config.subjects, subjects] });
  } catch (error) {
    if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    await manager.streams.add({ name: options.stream, subjects: [subjects], duplicate_window: nanos(options.duplicateWindowMs), max_age: nanos(STREAM_MAX_AGE_MS) });
  }
}

/**
 * The bus on NATS JetStream: one stream, a subject per topic, durable pull consumers with
 * explicit acks. A message is acknowledged only once its handler settled it as done; while the
 * handler runs, "in progress" is sent every third of the ack wait, so only a consumer that died
 * (or lost its connection) has its message delivered again. Ids (`Nats-Msg-Id`) de-duplicate
 * publishes within the stream's duplicate window.
 */
export class NatsBus implements EventBus {
  readonly description: string;
  private readonly client: JetStreamClient;
  private readonly running = new Set<BusConsumer>();

  private constructor(
    private readonly connection: NatsConnection,
    private readonly manager: JetStreamManager,
    private readonly options: NatsBusOptions,
  ) {
    this.client = jetstream(connection);
    this.description = `${options.url} (stream ${options.stream}, subjects ${this.subjectOf({ subject: '>' })})`;
  }

  /**
   * Connects and makes sure the stream exists.
   * @throws UnavailableError when no NATS server answers at `options.url` (exit 1); InputError when it runs without JetStream.
   */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    let connection: NatsConnection;
    try {
      // Once connected, a server that goes away is waited for, however long: consumers pick up where they were.
      connection = await connect({ servers: options.url, name: 'detour', timeout: CONNECT_TIMEOUT_MS, maxReconnectAttempts: -1 });
    } catch (error) {
      throw new UnavailableError('NATS', `cannot reach NATS at ${options.url}: ${oneLine(error)}`, { cause: error });
    }
    try {
      let manager: JetStreamManager;
      try {
        manager = await jetstreamManager(connection);
      } catch (error) {
        throw new InputError(`NATS at ${options.url} has no JetStream (start nats-server with -js): ${oneLine(error)}`, { cause: error });
      }
      await ensureStream(manager, options);
      return new NatsBus(connection, manager, options);
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  private subjectOf(topic: Pick<Topic<unknown>, 'subject'>): string {
    const { subjectPrefix, namespace } = this.options;
    return namespace === undefined ? `${subjectPrefix}.${topic.subject}` : `${subjectPrefix}.${namespace}.${topic.subject}`;
  }

  /** The server de-duplicates ids across the whole stream: a namespace's are its own. */
  private messageIdOf(id: string): string {
    return this.options.namespace === undefined ? id : `${this.options.namespace}:${id}`;
  }

  private consumerNameOf(name: string): string {
    return this.options.namespace === undefined ? name : `${this.options.namespace}_${name}`;
  }

  async publish<Message>(topic: Topic<Message>, message: Message): Promise<{ duplicate: boolean }> {
    const payload = JSON.stringify(topic.schema.parse(message));
    const ack = await this.client.publish(this.subjectOf(topic), payload, topic.messageId === undefined ? {} : { msgID: this.messageIdOf(topic.messageId(message)) });
    return { duplicate: ack.duplicate };
  }

  /**
   * Core NATS publishes with a reply subject, acknowledged on one subscription: JetStream's
   * request per message (js.publish) costs a timer and a promise apiece, ten times as slow at
   * 100k messages. At most PUBLISH_WINDOW are unacknowledged at once.
   */
  async publishMany<Message>(topic: Topic<Message>, messages: readonly Message[]): Promise<{ published: number; duplicates: number }> {
    if (messages.length === 0) return { published: 0, duplicates: 0 };
    const subject = this.subjectOf(topic);
    const inbox = createInbox();
    let sent = 0;
    let acknowledged = 0;
    let duplicates = 0;
    let failure: Error | undefined;
    let wakePublisher: (() => void) | undefined;
    let settle!: { resolve: () => void; reject: (error: Error) => void };
    const allAcknowledged = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    allAcknowledged.catch(() => {}); // awaited below once everything is sent
    const fail = (error: Error) => {
      failure ??= error;
      settle.reject(failure);
      wakePublisher?.();
    };
    // One timer for the whole batch: a timer per acknowledgement costs more than the publish.
    let lastAckAt = Date.now();
    const idleCheck = setInterval(() => {
      if (Date.now() - lastAckAt > ACK_IDLE_TIMEOUT_MS) fail(new TransientError(`NATS acknowledged ${acknowledged} of ${messages.length} messages on ${subject}, then nothing for ${ACK_IDLE_TIMEOUT_MS / 1000} s`));
    }, ACK_IDLE_TIMEOUT_MS / 4);
    const subscription = this.connection.subscribe(`${inbox}.*`, {
      callback: (error, reply) => {
        const ack = error ?? readPublishAck(reply, subject);
        if (ack instanceof Error) return fail(ack);
        if (ack.duplicate) duplicates++;
        acknowledged++;
        lastAckAt = Date.now();
        // The publisher waits for half the window to clear, not for each acknowledgement.
        if (wakePublisher !== undefined && sent - acknowledged <= PUBLISH_WINDOW / 2) wakePublisher();
        if (acknowledged === messages.length) settle.resolve();
      },
    });
    try {
      for (; sent < messages.length && failure === undefined; sent++) {
        if (sent - acknowledged >= PUBLISH_WINDOW) {
          await new Promise<void>((resolve) => (wakePublisher = resolve));
          wakePublisher = undefined;
          if (failure !== undefined) break;
        }
        const message = messages[sent];
        const header = headers();
        if (topic.messageId !== undefined) header.set('Nats-Msg-Id', this.messageIdOf(topic.messageId(message)));
        this.connection.publish(subject, JSON.stringify(topic.schema.parse(message)), { headers: header, reply: `${inbox}.${sent}` });
      }
      await allAcknowledged;
      return { published: messages.length - duplicates, duplicates };
    } finally {
      clearInterval(idleCheck);
      subscription.unsubscribe();
    }
  }

  async removeNamespace(): Promise<{ messages: number; consumers: number }> {
    const { namespace, stream } = this.options;
    if (namespace === undefined) throw new InputError(`the bus at ${this.description} has no namespace of its own to remove`);
    let consumers = 0;
    for await (const consumer of this.manager.consumers.list(stream)) {
      if (!consumer.name.startsWith(`${namespace}_`)) continue;
      await this.manager.consumers.delete(stream, consumer.name);
      consumers++;
    }
    const { purged } = await this.manager.streams.purge(stream, { filter: this.subjectOf({ subject: '>' }) });
    return { messages: purged, consumers };
  }

  /** Creates the durable consumer, or brings an existing one to the current ack wait and delivery limit. */
  private async ensureConsumer(name: string, subject: string): Promise<void> {
    const limits = { ack_wait: nanos(this.options.ackWaitMs), max_deliver: this.options.maxDeliveries };
    try {
      await this.manager.consumers.info(this.options.stream, name);
      await this.manager.consumers.update(this.options.stream, name, limits);
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
      await this.manager.consumers.add(this.options.stream, { durable_name: name, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: subject, ...limits });
    }
  }

  async consume<Message>(topic: Topic<Message>, name: string, handle: (delivery: Delivery<Message>) => Promise<Settlement>, options: ConsumeOptions = {}): Promise<BusConsumer> {
    const durableName = this.consumerNameOf(name);
    await this.ensureConsumer(durableName, this.subjectOf(topic));
    const consumer = await this.client.consumers.get(this.options.stream, durableName);
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        let message: JsMsg | null;
        try {
          // One message at a time: nothing waits in a buffer while its ack wait runs out.
          message = await consumer.next({ expires: PULL_EXPIRES_MS });
        } catch (error) {
          if (stopping) break;
          options.onError?.(error);
          await sleep(PULL_EXPIRES_MS);
          continue;
        }
        if (message !== null) await this.deliver(topic, message, handle, options);
      }
    })();
    const running: BusConsumer = {
      stop: async () => {
        stopping = true;
        await loop;
        this.running.delete(running);
      },
    };
    this.running.add(running);
    return running;
  }

  private async deliver<Message>(topic: Topic<Message>, message: JsMsg, handle: (delivery: Delivery<Message>) => Promise<Settlement>, options: ConsumeOptions): Promise<void> {
    let payload: unknown;
    try {
      payload = message.json();
    } catch {
      payload = undefined;
    }
    const parsed = topic.schema.safeParse(payload);
    if (!parsed.success) {
      message.term();
      options.onError?.(new InputError(`message ${message.seq} on ${message.subject} dropped: not a ${topic.subject} message (${oneLine(parsed.error.issues[0]?.message ?? 'not JSON')})`));
      return;
    }
    const heartbeat = setInterval(() => message.working(), Math.max(100, this.options.ackWaitMs / 3));
    let settlement: Settlement;
    try {
      const attempt = message.info.deliveryCount;
      settlement = await handle({ message: parsed.data, attempt, lastAttempt: attempt >= this.options.maxDeliveries });
    } catch (error) {
      options.onError?.(error);
      settlement = { outcome: 'retry', delayMs: options.retryDelayMs ?? 1_000 };
    } finally {
      clearInterval(heartbeat);
    }
    if (settlement.outcome === 'done') await message.ackAck();
    else if (settlement.outcome === 'retry') message.nak(settlement.delayMs);
    // A reason with the TERM needs NATS 2.11; the consumer's caller reports it instead.
    else message.term();
  }

  async close(): Promise<void> {
    for (const consumer of [...this.running]) await consumer.stop();
    await this.connection.close();
  }
}
