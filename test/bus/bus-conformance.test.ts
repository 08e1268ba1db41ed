import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LANDED, openBus, type Delivery, type EventBus, type LandedEvent, type Settlement, type Topic } from '../../src/bus/index.js';
import { InputError } from '../../src/errors.js';
import { deleteNatsStream, NATS_URL } from '../helpers/nats.js';

/** Each bus adapter, opened on a stream and subjects of its own so that tests never see each other's messages; `drop` removes them. */
const adapters: {
  name: string;
  open(options: { ackWaitMs?: number; maxDeliveries?: number }): Promise<{ bus: EventBus; drop(): Promise<void> }>;
  /** Buses on one stream: one per namespace (environment), and one with none; `drop` removes the stream. */
  openNamespaces(namespaces: string[]): Promise<{ buses: EventBus[]; whole: EventBus; drop(): Promise<void> }>;
}[] = [
  {
    name: 'nats',
    open: async ({ ackWaitMs = 30_000, maxDeliveries = 5 }) => {
      const id = randomBytes(6).toString('hex');
      const bus = await openBus({ url: NATS_URL, stream: `TEST_${id}`, subjectPrefix: `test_${id}`, ackWaitMs, maxDeliveries, duplicateWindowMs: 60_000 });
      return { bus, drop: () => deleteNatsStream(`TEST_${id}`) };
    },
    openNamespaces: async (namespaces) => {
      const id = randomBytes(6).toString('hex');
      const options = { url: NATS_URL, stream: `TEST_${id}`, subjectPrefix: `test_${id}`, ackWaitMs: 30_000, maxDeliveries: 5, duplicateWindowMs: 60_000 };
      const buses = [];
      for (const namespace of namespaces) buses.push(await openBus({ ...options, namespace }));
      return { buses, whole: await openBus(options), drop: () => deleteNatsStream(`TEST_${id}`) };
    },
  },
];

const event = (date: string, sha = 'a'): LandedEvent => ({ dataset: 'trips', date, key: `bronze/trips/date=${date}/trips.csv`, sha256: sha.repeat(64) });

/** Deliveries a consumer got, and a way to wait for the nth. */
function recorder<T>(settle: (delivery: Delivery<T>) => Settlement | Promise<Settlement>) {
  const deliveries: Delivery<T>[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  return {
    deliveries,
    handle: async (delivery: Delivery<T>) => {
      deliveries.push(delivery);
      for (const waiter of waiters.filter((candidate) => deliveries.length >= candidate.count)) waiter.resolve();
      return settle(delivery);
    },
    received: (count: number) => (deliveries.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))),
  };
}

describe.each(adapters)('EventBus on $name', (adapter) => {
  const opened: { bus: EventBus; drop(): Promise<void> }[] = [];
  const open = async (options: { ackWaitMs?: number; maxDeliveries?: number } = {}) => {
    const bus = await adapter.open(options);
    opened.push(bus);
    return bus.bus;
  };
  afterEach(async () => {
    for (const { bus, drop } of opened.splice(0)) {
      await bus.close();
      await drop();
    }
  });

  it('delivers a published message once it is settled, and drops a publish of the same message as a duplicate', async () => {
    const bus = await open();
    expect(await bus.publish(LANDED, event('2024-06-01'))).toEqual({ duplicate: false });
    expect(await bus.publish(LANDED, event('2024-06-01'))).toEqual({ duplicate: true });
    expect(await bus.publish(LANDED, event('2024-06-01', 'b'))).toEqual({ duplicate: false });
    const consumer = recorder<LandedEvent>(() => ({ outcome: 'done' }));
    const running = await bus.consume(LANDED, 'landed', consumer.handle);
    await consumer.received(2);
    await sleep(1_500);
    await running.stop();
    expect(consumer.deliveries).toEqual([
      { message: event('2024-06-01'), attempt: 1, lastAttempt: false },
      { message: event('2024-06-01', 'b'), attempt: 1, lastAttempt: false },
    ]);
  });

  it('keeps messages published while no one consumes for the durable consumer, which resumes where it settled', async () => {
    const bus = await open();
    const first = recorder<LandedEvent>(() => ({ outcome: 'done' }));
    const running = await bus.consume(LANDED, 'landed', first.handle);
    await bus.publish(LANDED, event('2024-06-02'));
    await first.received(1);
    await running.stop();
    await bus.publish(LANDED, event('2024-06-03'));
    const second = recorder<LandedEvent>(() => ({ outcome: 'done' }));
    const again = await bus.consume(LANDED, 'landed', second.handle);
    await second.received(1);
    await again.stop();
    expect(second.deliveries.map((delivery) => delivery.message.date)).toEqual(['2024-06-03']);
  });

  it('delivers again after a retry or a handler that throws, up to the last attempt; a dropped message never comes back', async () => {
    const bus = await open({ maxDeliveries: 3 });
    const errors: unknown[] = [];
    const consumer = recorder<LandedEvent>((delivery) => {
      if (delivery.message.date === '2024-06-05') return { outcome: 'drop', reason: 'bad file' };
      if (delivery.attempt === 1) return { outcome: 'retry', delayMs: 100 };
      throw new Error('the run failed');
    });
    const running = await bus.consume(LANDED, 'landed', consumer.handle, { retryDelayMs: 100, onError: (error) => errors.push(error) });
    await bus.publish(LANDED, event('2024-06-04'));
    await bus.publish(LANDED, event('2024-06-05'));
    await consumer.received(4);
    await sleep(1_500);
    await running.stop();
    const of = (date: string) => consumer.deliveries.filter((delivery) => delivery.message.date === date).map(({ attempt, lastAttempt }) => ({ attempt, lastAttempt }));
    expect(of('2024-06-04')).toEqual([
      { attempt: 1, lastAttempt: false },
      { attempt: 2, lastAttempt: false },
      { attempt: 3, lastAttempt: true },
    ]);
    expect(of('2024-06-05')).toEqual([{ attempt: 1, lastAttempt: false }]);
    expect(errors.map(String)).toEqual(['Error: the run failed', 'Error: the run failed']);
  });

  it('keeps a message that takes longer than the ack wait with its one consumer, delivered once', async () => {
    const bus = await open({ ackWaitMs: 1_000 });
    const consumer = recorder<LandedEvent>(async () => {
      await sleep(3_000);
      return { outcome: 'done' };
    });
    const running = await bus.consume(LANDED, 'landed', consumer.handle);
    await bus.publish(LANDED, event('2024-06-06'));
    await consumer.received(1);
    await sleep(4_000);
    await running.stop();
    expect(consumer.deliveries).toHaveLength(1);
  });

  it('drops a message that does not fit its topic, saying so, and goes on with the next', async () => {
    const bus = await open();
    const loose: Topic<unknown> = { subject: LANDED.subject, schema: z.unknown() };
    await bus.publish(loose, { dataset: 'trips', date: 'yesterday' });
    await bus.publish(LANDED, event('2024-06-07'));
    const errors: unknown[] = [];
    const consumer = recorder<LandedEvent>(() => ({ outcome: 'done' }));
    const running = await bus.consume(LANDED, 'landed', consumer.handle, { onError: (error) => errors.push(error) });
    await consumer.received(1);
    await running.stop();
    expect(consumer.deliveries.map((delivery) => delivery.message.date)).toEqual(['2024-06-07']);
    expect(String(errors[0])).toMatch(/^InputError: message 1 on test_[0-9a-f]+\.lake\.landed dropped: not a lake\.landed message/);
  });
  it('publishes a batch without waiting for each acknowledgement, and drops the batch published again as duplicates', async () => {
    const bus = await open();
    const events = Array.from({ length: 500 }, (_, index) => event('2024-06-01', (index % 16).toString(16)).key + index).map((key, index) => ({ ...event('2024-06-01'), key, sha256: (index % 16).toString(16).repeat(64) }));
    expect(await bus.publishMany(LANDED, events)).toEqual({ published: 500, duplicates: 0 });
    expect(await bus.publishMany(LANDED, events)).toEqual({ published: 0, duplicates: 500 });
    const consumer = recorder<LandedEvent>(() => ({ outcome: 'done' }));
    const running = await bus.consume(LANDED, 'landed', consumer.handle);
    await consumer.received(500);
    await sleep(1_000);
    await running.stop();
    expect(consumer.deliveries.map((delivery) => delivery.message)).toEqual(events);
  }, 60_000);

  it('keeps namespaces (environments) on one stream apart, and removes one with its consumers alone', async () => {
    const { buses, whole, drop } = await adapter.openNamespaces(['blue', 'green']);
    const [blue, green] = buses;
    try {
      await blue.publish(LANDED, event('2024-06-01'));
      await green.publish(LANDED, event('2024-06-01'));
      await green.publish(LANDED, event('2024-06-02'));
      const blueConsumer = recorder<LandedEvent>(() => ({ outcome: 'done' }));
      const greenConsumer = recorder<LandedEvent>(() => ({ outcome: 'done' }));
      const running = [await blue.consume(LANDED, 'landed', blueConsumer.handle), await green.consume(LANDED, 'landed', greenConsumer.handle)];
      await greenConsumer.received(2);
      await sleep(1_000);
      for (const consumer of running) await consumer.stop();
      // The same message in two namespaces is two messages, neither a duplicate of the other.
      expect(blueConsumer.deliveries.map((delivery) => delivery.message.date)).toEqual(['2024-06-01']);
      expect(greenConsumer.deliveries.map((delivery) => delivery.message.date)).toEqual(['2024-06-01', '2024-06-02']);

      expect(await green.removeNamespace()).toEqual({ messages: 2, consumers: 1 });
      await expect(whole.removeNamespace()).rejects.toBeInstanceOf(InputError);
      const again = recorder<LandedEvent>(() => ({ outcome: 'done' }));
      const blueAgain = await blue.consume(LANDED, 'landed', again.handle);
      await blue.publish(LANDED, event('2024-06-03'));
      await again.received(1);
      await blueAgain.stop();
      expect(again.deliveries.map((delivery) => delivery.message.date)).toEqual(['2024-06-03']);
    } finally {
      for (const bus of [...buses, whole]) await bus.close();
      await drop();
    }
  }, 60_000);

});

describe('openBus', () => {
  it('refuses a URL of another scheme, and says when no server answers', async () => {
    const options = { stream: 'S', subjectPrefix: 'p', ackWaitMs: 1_000, maxDeliveries: 1, duplicateWindowMs: 1_000 };
    await expect(openBus({ ...options, url: 'redis://127.0.0.1:6379' })).rejects.toThrow('bus URL "redis://127.0.0.1:6379" must be nats://host:port');
    await expect(openBus({ ...options, url: 'nats://127.0.0.1:1' })).rejects.toThrow(/^cannot reach NATS at nats:\/\/127\.0\.0\.1:1: /);
  });
});
