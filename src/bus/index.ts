/**
 * The event bus: messages between detour processes and from storage (a file landed, an object put
 * to a bucket), delivered at least once to durable consumers. NATS JetStream is the adapter; the
 * interface (bus.ts) has room for others.
 */
import { InputError } from '../errors.js';
import { NatsBus, type NatsBusOptions } from './nats-bus.js';
import type { EventBus } from './bus.js';

export { LANDED, STORAGE_EVENTS } from './bus.js';
export type { BusConsumer, ConsumeOptions, Delivery, EventBus, LandedEvent, Settlement, StorageEvent, Topic } from './bus.js';
export { NatsBus, type NatsBusOptions } from './nats-bus.js';

/**
 * Connects to the bus at `options.url` (`nats://host:4222`) and makes sure its stream exists.
 * @throws InputError for another scheme; UnavailableError when the server does not answer.
 */
export async function openBus(options: NatsBusOptions): Promise<EventBus> {
  if (!/^nats:\/\//i.test(options.url)) throw new InputError(`bus URL "${options.url}" must be nats://host:port`);
  return NatsBus.connect(options);
}
