import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError, TransientError } from '../../src/errors.js';
import { WebhookSink, slackMessage, type RunAlert } from '../../src/sinks/index.js';

interface Received {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

type Reply = { status: number; headers?: Record<string, string>; body?: string };

/** A real HTTP receiver that answers with the scripted replies in turn, then 200 "ok". */
async function startReceiver(replies: Reply[] = []): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        path: request.url ?? '',
        contentType: request.headers['content-type'],
        body: JSON.parse(text),
      });
      const reply = replies.shift() ?? { status: 200, body: 'ok' };
      response.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
      response.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/services/T000/B000/s3cr3tT0k3n`, received, server };
}

/** A sleep that returns at once and remembers what it was asked to wait. */
function recordingSleep(): { sleep: (ms: number) => Promise<void>; delays: number[] } {
  const delays: number[] = [];
  return { delays, sleep: async (ms) => void delays.push(ms) };
}

const failed: RunAlert = {
  kind: 'run_failed',
  pipeline: 'flights',
  runId: '20011231T120000-abc',
  logicalDate: '2001-01-05',
  error: 'lake object raw/flights/2001-01-05.csv\nis missing',
  dashboardUrl: 'https://grafana.example/d/detour?run=20011231T120000-abc',
};

const anomalous: RunAlert = {
  kind: 'anomaly_threshold',
  pipeline: 'flights',
  runId: '20011231T120000-abc',
  logicalDate: '2001-01-05',
  anomalies: 42,
  threshold: 20,
};

describe('slackMessage', () => {
  it('says a run failed in one text line, with the error, and lays it out in a mrkdwn section', () => {
    const message = slackMessage(failed);
    expect(message.text).toBe(
      ':rotating_light: detour run failed: flights 2001-01-05 (run 20011231T120000-abc): lake object raw/flights/2001-01-05.csv is missing',
    );
    expect(message.blocks[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: expect.stringContaining('*Pipeline:* flights') } });
    expect(JSON.stringify(message.blocks)).toContain('<https://grafana.example/d/detour?run=20011231T120000-abc|Open run>');
  });

  it('says how many anomalies crossed which threshold', () => {
    const message = slackMessage(anomalous);
    expect(message.text).toBe(':warning: detour flights 2001-01-05: 42 anomalies (threshold 20)');
    expect(message.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: expect.stringContaining('42 anomalies (threshold 20)') } },
    ]);
  });

  it('escapes Slack markup in user text so an error cannot ping or link', () => {
    const message = slackMessage({ ...failed, error: 'bad <!channel> & <http://evil|x>' });
    expect(message.text).toContain('bad &lt;!channel&gt; &amp; &lt;http://evil|x&gt;');
    expect(JSON.stringify(message.blocks)).not.toContain('<!channel>');
  });
});

describe('WebhookSink', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
  async function receiver(replies?: Reply[]) {
    const started = await startReceiver(replies);
    servers.push(started.server);
    return started;
  }

  it('posts Slack-compatible JSON for both alert kinds', async () => {
    const { url, received } = await receiver();
    const sink = new WebhookSink({ url });
    expect(await sink.send(failed)).toEqual({ attempts: 1, status: 200 });
    expect(await sink.send(anomalous)).toEqual({ attempts: 1, status: 200 });

    expect(received).toHaveLength(2);
    for (const request of received) {
      expect(request.method).toBe('POST');
      expect(request.path).toBe('/services/T000/B000/s3cr3tT0k3n');
      expect(request.contentType).toBe('application/json');
    }
    expect(received[0].body).toEqual(slackMessage(failed));
    expect(received[1].body).toEqual({
      text: ':warning: detour flights 2001-01-05: 42 anomalies (threshold 20)',
      blocks: [expect.objectContaining({ type: 'section' })],
    });
  });

  it.each([503, 429])('retries a %i without Retry-After with exponential backoff until the receiver accepts', async (status) => {
    const { url, received } = await receiver([{ status }, { status }]);
    const { sleep, delays } = recordingSleep();
    const sink = new WebhookSink({ url, initialDelayMs: 100, sleep });
    expect(await sink.send(failed)).toEqual({ attempts: 3, status: 200 });
    expect(received).toHaveLength(3);
    expect(delays).toEqual([100, 200]);
  });

  it('waits as long as a 429 Retry-After asks, capped by maxDelayMs', async () => {
    const { url, received } = await receiver([
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 429, headers: { 'retry-after': '3600' } },
    ]);
    const { sleep, delays } = recordingSleep();
    const sink = new WebhookSink({ url, maxDelayMs: 10_000, sleep });
    expect(await sink.send(anomalous)).toEqual({ attempts: 3, status: 200 });
    expect(received).toHaveLength(3);
    expect(delays).toEqual([2000, 10_000]);
  });

  it('caps an initial delay above maxDelayMs like any other wait', async () => {
    const { url } = await receiver([{ status: 503 }, { status: 503 }]);
    const { sleep, delays } = recordingSleep();
    const sink = new WebhookSink({ url, initialDelayMs: 5000, maxDelayMs: 1000, sleep });
    expect(await sink.send(failed)).toEqual({ attempts: 3, status: 200 });
    expect(delays).toEqual([1000, 1000]);
  });

  it('does not retry a 400 and says what the receiver answered', async () => {
    const { url, received } = await receiver([{ status: 400, body: 'invalid_payload' }]);
    const { sleep, delays } = recordingSleep();
    const sink = new WebhookSink({ url, sleep });
    const error = await sink.send(failed).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/^webhook 127\.0\.0\.1:\d+ rejected the alert: HTTP 400 invalid_payload$/);
    expect(received).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('does not follow a redirect, so the alert never goes to a host nobody configured', async () => {
    const elsewhere = await receiver();
    const { url, received } = await receiver([{ status: 302, headers: { location: elsewhere.url } }]);
    const sink = new WebhookSink({ url, sleep: recordingSleep().sleep });
    await expect(sink.send(failed)).rejects.toThrow(/rejected the alert: HTTP 302$/);
    expect(received).toHaveLength(1);
    expect(elsewhere.received).toHaveLength(0);
  });

  it('gives up with a TransientError naming the last status after all retries', async () => {
    const { url, received } = await receiver([{ status: 500 }, { status: 502 }, { status: 503 }]);
    const { sleep, delays } = recordingSleep();
    const sink = new WebhookSink({ url, retries: 2, initialDelayMs: 500, maxDelayMs: 600, sleep });
    const error = await sink.send(failed).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toMatch(/^webhook 127\.0\.0\.1:\d+ failed after 3 attempts, last: HTTP 503$/);
    expect(received).toHaveLength(3);
    expect(delays).toEqual([500, 600]);
  });

  it('gives up on an unreachable receiver with a TransientError that names the host, not the secret path', async () => {
    const { url, server } = await startReceiver();
    await new Promise((resolve) => server.close(resolve)); // nothing listens on this port any more
    const { sleep, delays } = recordingSleep();
    const sink = new WebhookSink({ url, retries: 2, sleep });
    const error = await sink.send(failed).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TransientError);
    const message = (error as Error).message;
    const host = new URL(url).host;
    expect(message).toContain(`webhook ${host} failed after 3 attempts`);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).not.toContain('s3cr3tT0k3n');
    expect(message).not.toContain('/services/');
    expect(delays).toEqual([500, 1000]);
  });

  it('times out a receiver that never answers and retries it', async () => {
    const hanging = createServer(() => {
      /* never answers */
    });
    servers.push(hanging);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const { port } = hanging.address() as AddressInfo;
    const { sleep } = recordingSleep();
    const sink = new WebhookSink({ url: `http://127.0.0.1:${port}/hook/s3cr3t`, retries: 1, timeoutMs: 100, sleep });
    await expect(sink.send(failed)).rejects.toThrow(/failed after 2 attempts, last: timed out after 100 ms$/);
  });

  it('accepts only http and https URLs, without echoing them', () => {
    expect(() => new WebhookSink({ url: 'ftp://example.com/hook' })).toThrow(InputError);
    expect(() => new WebhookSink({ url: 'ftp://example.com/hook' })).toThrow('webhook URL must be http or https, got ftp');
    expect(() => new WebhookSink({ url: 'hooks.slack.com/services/s3cr3t' })).toThrow('webhook URL is not a valid URL');
    expect(() => new WebhookSink({ url: 'https://hooks.slack.com/x', retries: -1 })).toThrow(InputError);
  });
});
