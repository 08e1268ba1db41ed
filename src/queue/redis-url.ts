import { InputError } from '../errors.js';

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
