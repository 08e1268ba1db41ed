import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, UnavailableError } from '../../src/errors.js';
import { BullmqQueue, InlineQueue, openQueue } from '../../src/queue/index.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

describe('openQueue', () => {
  it.each([undefined, '', '   '])('opens the embedded queue for %j', async (url) => {
    const queue = await openQueue(url);

    expect(queue).toBeInstanceOf(InlineQueue);
    expect(queue.kind).toBe('inline');
    await queue.close();
  });

  it('opens a BullMQ queue for a redis:// URL', async () => {
    const queue = await openQueue(REDIS_URL, { prefix: `detour-test-${randomUUID()}` });

    expect(queue).toBeInstanceOf(BullmqQueue);
    expect(queue.kind).toBe('bullmq');
    await (queue as BullmqQueue).obliterate();
    await queue.close();
  });

  it.each(['postgres://localhost/detour', 'http://user:secret@example.com/queue', 'localhost:6379', 'redis-queue'])('refuses %s with an InputError naming it', async (url) => {
    const error = await openQueue(url).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain('unsupported queue URL');
    expect((error as Error).message).not.toContain('secret');
  });

  it.each(['redis://127.0.0.1:notaport', 'redis://127.0.0.1:6379/db-one'])('refuses the malformed Redis URL %s', async (url) => {
    await expect(openQueue(url)).rejects.toThrow(InputError);
  });

  it('uses the database number of the URL', async () => {
    const prefix = `detour-test-${randomUUID()}`;
    const inDb3 = await BullmqQueue.connect({ url: `${REDIS_URL.replace(/\/\d*$/, '')}/3`, prefix });
    const inDb0 = await BullmqQueue.connect({ url: REDIS_URL, prefix });
    try {
      await inDb3.work(async () => 'ok');
      await inDb3.run([{ id: 'only-in-3', name: 'step', data: {} }]);

      expect((await inDb3.depth()).completed).toBe(1);
      expect((await inDb0.depth()).completed).toBe(0);
    } finally {
      await Promise.all([inDb3.obliterate(), inDb0.obliterate()]);
      await Promise.all([inDb3.close(), inDb0.close()]);
    }
  });
});

describe('an unreachable Redis', () => {
  /** Accepts connections and never answers, like a firewall that lets SYN through or a hung server. */
  let silentServer: net.Server;
  let silentPort: number;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    silentServer = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silentServer.listen(0, '127.0.0.1', resolve));
    silentPort = (silentServer.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silentServer.close(resolve));
  });

  it('fails at once with one UnavailableError line (infrastructure, exit 1) when nothing listens', async () => {
    const started = Date.now();
    const error = await openQueue('redis://:hunter2@127.0.0.1:1', { outageWaitMs: 0 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/^Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1 unreachable \(.*ECONNREFUSED.*\); check that it runs and that QUEUE_URL points at it$/);
    expect((error as Error).message).not.toContain('hunter2');
    expect((error as Error).message).not.toContain('\n');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('gives up after the connect timeout when the server never answers', async () => {
    const started = Date.now();
    const error = await openQueue(`redis://127.0.0.1:${silentPort}`, { connectTimeoutMs: 1_000, outageWaitMs: 0 }).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toBe(`Redis at redis://127.0.0.1:${silentPort} unreachable (no answer within 1 s); check that it runs and that QUEUE_URL points at it`);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('waits for Redis as long as it is told, saying so once', async () => {
    const notices: string[] = [];
    const started = Date.now();
    const error = await openQueue('redis://127.0.0.1:1', { outageWaitMs: 1_500, onOutage: (notice) => notices.push(notice) }).catch((caught: unknown) => caught);

    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:1 unreachable for [12] s \(/);
    expect(notices).toEqual([expect.stringMatching(/^waiting for Redis at redis:\/\/127\.0\.0\.1:1 \(.*ECONNREFUSED/)]);
  });
});
