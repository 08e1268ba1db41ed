import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { RetriesExhaustedError } from '../../src/retry.js';
import { EmailSink, type AlarmNotice } from '../../src/sinks/index.js';

const NOTICE: AlarmNotice = { pipeline: 'fleet', alarm: 'drift', state: 'firing', message: 'temperature KS 0.52 > 0.45', date: '2014-07-13' };

interface Mail {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server (smtp-server) on a free port; `refuse` answers every message with that SMTP code. */
async function startSmtp(refuse?: number): Promise<{ port: number; mails: Mail[]; server: SMTPServer }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream: SMTPServerDataStream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        if (refuse !== undefined) return callback(Object.assign(new Error('mailbox unavailable'), { responseCode: refuse }));
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((rcpt) => rcpt.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.server.address() as AddressInfo).port, mails, server };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

const options = (port: number) => ({ smtp: `smtp://127.0.0.1:${port}`, from: 'detour@example.com', to: ['oncall@example.com', 'data@example.com'], retries: 2, initialDelayMs: 5, maxDelayMs: 10, timeoutMs: 2000 });

describe('email alarms (nodemailer to a real SMTP server)', () => {
  const servers: SMTPServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  });

  it('sends an alarm to every recipient with its state in the subject', async () => {
    const { port, mails, server } = await startSmtp();
    servers.push(server);
    const sink = new EmailSink(options(port));
    expect(await sink.sendAlarm(NOTICE)).toEqual({ attempts: 1 });
    sink.close();
    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ from: 'detour@example.com', to: ['oncall@example.com', 'data@example.com'] });
    expect(mails[0].raw).toMatch(/^Subject: \[FIRING\] detour fleet 2014-07-13: alarm drift firing$/m);
    expect(mails[0].raw).toContain('temperature KS 0.52 > 0.45');
  });

  it('retries an unreachable server with backoff, then gives up saying where', async () => {
    const retries: number[] = [];
    const sink = new EmailSink({ ...options(await closedPort()), onRetry: ({ attempt }) => retries.push(attempt) });
    const sent = sink.sendAlarm(NOTICE);
    await expect(sent).rejects.toThrow(RetriesExhaustedError);
    await expect(sent).rejects.toThrow(/SMTP 127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    expect(retries).toEqual([1, 2]);
    sink.close();
  });

  it('does not retry a message the server refuses for good (5xx)', async () => {
    const { port, server } = await startSmtp(550);
    servers.push(server);
    const retries: number[] = [];
    const sink = new EmailSink({ ...options(port), onRetry: ({ attempt }) => retries.push(attempt) });
    await expect(sink.sendAlarm(NOTICE)).rejects.toThrow(InputError);
    expect(retries).toEqual([]);
    sink.close();
  });

  it('refuses an SMTP URL that does not parse, without quoting it', () => {
    expect(() => new EmailSink({ ...options(25), smtp: 'smtp://user:secret@' })).toThrow(new InputError('SMTP URL is not a valid URL'));
  });
});
