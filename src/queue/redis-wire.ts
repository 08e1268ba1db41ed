import net from 'node:net';
import tls from 'node:tls';
import type { BunRedisRawClient, RedisCommandArgument } from 'bullmq';
import { InputError } from '../errors.js';

/*
 * Why this file exists: bullmq 6 no longer brings a Redis driver; ioredis is an optional peer
 * dependency that this project does not install. bullmq ships an adapter (createBunRedisClient)
 * that needs only a raw connection able to `send(command, args)`, and does the rest itself:
 * scripts, transactions, duplicates for blocking reads, reconnection with backoff. This is that
 * raw connection: RESP2 over one TCP (or TLS) socket, commands pipelined in order. Swapping in
 * ioredis later means replacing `RedisWire` in bullmq-queue.ts, nothing else.
 */

/** Where a `redis://` or `rediss://` URL points, parsed once. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  tls: boolean;
  username?: string;
  password?: string;
  /** The URL without its password, safe for messages and logs. */
  redactedUrl: string;
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` (or `rediss://` for TLS).
 *
 * @throws InputError naming the URL (without password) when it is not such a URL.
 */
export function parseRedisUrl(url: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new InputError(`invalid Redis URL "${redact(url)}": expected redis://host:port[/db]`, { cause: error });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new InputError(`invalid Redis URL "${redact(url)}": expected redis:// or rediss://`);
  }
  const dbText = parsed.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) {
    throw new InputError(`invalid Redis URL "${redact(url)}": database "${dbText}" is not a number`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const username = parsed.username === '' ? undefined : decodeURIComponent(parsed.username);
  const password = parsed.password === '' ? undefined : decodeURIComponent(parsed.password);
  return { host, port, db, tls: parsed.protocol === 'rediss:', username, password, redactedUrl: redact(url) };
}

function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}

/** The message bullmq's adapter recognises as "connection closed" (and then reconnects quietly). */
const CONNECTION_CLOSED = 'Connection is closed.';

/** An error reply from the server (`-ERR ...`), named as ioredis names it. */
class ReplyError extends Error {
  override readonly name = 'ReplyError';
}

type Reply = string | number | null | Error | Reply[];

interface PendingCommand {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

const INCOMPLETE = Symbol('incomplete');

/**
 * One RESP2 connection to a Redis server, in the shape bullmq's `createBunRedisClient` wraps.
 * It does not reconnect by itself: the adapter calls `duplicate()` and `connect()` for that.
 */
export class RedisWire implements BunRedisRawClient {
  connected = false;
  onconnect: (() => void) | null = null;
  onclose: ((error?: Error) => void) | null = null;
  onerror: ((error: Error) => void) | null = null;

  private socket: net.Socket | undefined;
  private connecting: Promise<void> | undefined;
  private closedByUs = false;
  private lastError: Error | undefined;
  private readonly inFlight: PendingCommand[] = [];
  /** Commands sent while the handshake (AUTH/SELECT) runs; written in order once it is done. */
  private readonly offline: { frame: Buffer; pending: PendingCommand }[] = [];
  private unread: Buffer = Buffer.alloc(0);

  constructor(
    readonly target: RedisTarget,
    private readonly connectTimeoutMs: number,
  ) {}

  get url(): string {
    return this.target.redactedUrl;
  }

  connect(): Promise<void> {
    if (this.connected) return Promise.resolve();
    this.connecting ??= this.open().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async open(): Promise<void> {
    this.closedByUs = false;
    this.lastError = undefined;
    const { host, port } = this.target;
    const socket = this.target.tls ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host }) : net.connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    // Finds a peer that vanished without closing (machine gone) while a blocking read waits.
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      this.lastError = error;
    });
    socket.on('close', () => this.onSocketClosed(socket));

    const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${this.connectTimeoutMs / 1000} s`)), this.connectTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once(this.target.tls ? 'secureConnect' : 'connect', resolve);
        socket.once('close', () => reject(this.lastError ?? new Error(CONNECTION_CLOSED)));
      });
      const { username, password, db } = this.target;
      if (password !== undefined) await this.write('AUTH', username === undefined ? [password] : [username, password]);
      if (db !== 0) await this.write('SELECT', [String(db)]);
      // Proves a Redis answers, within the timeout, before anyone relies on this connection.
      await this.write('PING', []);
    } catch (error) {
      socket.destroy();
      // A refused connection or the timeout says more than the "closed" of the command it cut off.
      throw this.lastError ?? error;
    } finally {
      clearTimeout(timer);
    }
    this.connected = true;
    for (const { frame, pending } of this.offline.splice(0)) {
      this.inFlight.push(pending);
      socket.write(frame);
    }
    this.onconnect?.();
  }

  send<T = unknown>(command: string, args: RedisCommandArgument[]): Promise<T> {
    if (this.connected) return this.write(command, args) as Promise<T>;
    if (this.connecting !== undefined) {
      return new Promise<T>((resolve, reject) => {
        this.offline.push({ frame: encodeCommand(command, args), pending: { resolve: resolve as (value: unknown) => void, reject } });
      });
    }
    return Promise.reject(new Error(CONNECTION_CLOSED));
  }

  private write(command: string, args: RedisCommandArgument[]): Promise<unknown> {
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return Promise.reject(new Error(CONNECTION_CLOSED));
    return new Promise((resolve, reject) => {
      this.inFlight.push({ resolve, reject });
      socket.write(encodeCommand(command, args));
    });
  }

  close(): void {
    this.closedByUs = true;
    this.socket?.destroy();
  }

  async duplicate(): Promise<this> {
    return new RedisWire(this.target, this.connectTimeoutMs) as this;
  }

  get(key: string): Promise<string | null> {
    return this.send('GET', [key]);
  }

  smembers(key: string): Promise<unknown[]> {
    return this.send('SMEMBERS', [key]);
  }

  incr(key: string): Promise<number> {
    return this.send('INCR', [key]);
  }

  private onSocketClosed(socket: net.Socket): void {
    if (socket !== this.socket) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.unread = Buffer.alloc(0);
    const closed = new Error(CONNECTION_CLOSED);
    for (const pending of this.inFlight.splice(0)) pending.reject(closed);
    for (const { pending } of this.offline.splice(0)) pending.reject(closed);
    // A failed connect() reports through its own rejection; only a lost live connection is news.
    if (wasConnected && !this.closedByUs) this.onclose?.(this.lastError ?? closed);
  }

  private onData(chunk: Buffer): void {
    this.unread = this.unread.length === 0 ? chunk : Buffer.concat([this.unread, chunk]);
    let offset = 0;
    for (;;) {
      let parsed: ReturnType<typeof parseReply>;
      try {
        parsed = parseReply(this.unread, offset);
      } catch (error) {
        // Out of step with the server: no later reply can be matched to its command any more.
        this.socket?.destroy(error as Error);
        return;
      }
      if (parsed === INCOMPLETE) break;
      offset = parsed.next;
      const pending = this.inFlight.shift();
      if (pending === undefined) continue; // a reply nobody waits for (cannot happen without pub/sub)
      if (parsed.value instanceof Error) pending.reject(parsed.value);
      else pending.resolve(parsed.value);
    }
    this.unread = this.unread.subarray(offset);
  }
}

function encodeCommand(command: string, args: RedisCommandArgument[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length + 1}\r\n$${Buffer.byteLength(command)}\r\n${command}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/** Parses one RESP2 reply starting at `offset`, or says more bytes are needed. */
function parseReply(buffer: Buffer, offset: number): { value: Reply; next: number } | typeof INCOMPLETE {
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd === -1) return INCOMPLETE;
  const type = String.fromCharCode(buffer[offset]);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new ReplyError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return INCOMPLETE;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: Reply[] = [];
      let next = afterLine;
      for (let index = 0; index < count; index++) {
        const item = parseReply(buffer, next);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected Redis reply type "${type}"`);
  }
}
