/**
 * Bearer tokens with scopes. Tokens from the config are stored as their sha256; tokens from
 * DETOUR_API_TOKENS are hashed when read, so only hashes stay in memory. A presented token is
 * hashed and compared with every known hash in constant time, and never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiTokenConfig } from '../config/index.js';
import { InputError } from '../errors.js';

export type Scope = 'read' | 'detect' | 'admin';
const SCOPES: readonly Scope[] = ['read', 'detect', 'admin'];

/** A token the API accepts: its hash and what it may do. */
export interface ApiToken {
  name: string;
  sha256: Buffer;
  scopes: ReadonlySet<Scope>;
}

/** A token as DETOUR_API_TOKENS spells it: URL-safe characters, long enough not to be guessed. */
const TOKEN_PATTERN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * The tokens of the config (`api.tokens`, hashed) and of `DETOUR_API_TOKENS`
 * (`TOKEN:scope+scope,TOKEN:scope`, e.g. `d8f3…:read+detect,77ab…:admin`).
 *
 * @throws InputError for a malformed entry of DETOUR_API_TOKENS (the message never shows the token).
 */
export function apiTokens(configured: readonly ApiTokenConfig[], environment: string | undefined): ApiToken[] {
  const tokens: ApiToken[] = configured.map((token) => ({ name: token.name, sha256: Buffer.from(token.sha256, 'hex'), scopes: new Set(token.scopes) }));
  const entries = (environment ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  entries.forEach((entry, index) => {
    const separator = entry.lastIndexOf(':');
    const token = entry.slice(0, Math.max(0, separator));
    const scopes = entry.slice(separator + 1).split('+');
    const where = `DETOUR_API_TOKENS entry ${index + 1}`;
    if (separator < 0 || !TOKEN_PATTERN.test(token)) throw new InputError(`${where}: expected TOKEN:scope[+scope] with a token of 16 or more letters, digits or ._~+/=-`);
    const unknown = scopes.find((scope) => !SCOPES.includes(scope as Scope));
    if (unknown !== undefined) throw new InputError(`${where}: unknown scope "${unknown}" (scopes: ${SCOPES.join(', ')})`);
    tokens.push({ name: `DETOUR_API_TOKENS #${index + 1}`, sha256: sha256(token), scopes: new Set(scopes as Scope[]) });
  });
  return tokens;
}

/** The outcome of checking a request's Authorization header against a scope. */
export type Authorization = { status: 'allowed'; token: ApiToken } | { status: 'unauthenticated'; reason: string } | { status: 'forbidden'; reason: string };

/**
 * Checks `Authorization: Bearer <token>` for `scope`. `admin` holds every scope. Every known hash
 * is compared, whatever matches, so the time taken says nothing about which tokens exist.
 */
export function authorize(tokens: readonly ApiToken[], header: string | undefined, scope: Scope): Authorization {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
  if (presented === undefined) return { status: 'unauthenticated', reason: 'send a token: Authorization: Bearer <token>' };
  const hash = sha256(presented);
  let found: ApiToken | undefined;
  for (const token of tokens) if (timingSafeEqual(hash, token.sha256) && found === undefined) found = token;
  if (found === undefined) return { status: 'unauthenticated', reason: 'the bearer token is not one this server knows' };
  if (!found.scopes.has(scope) && !found.scopes.has('admin')) {
    return { status: 'forbidden', reason: `this route needs the ${scope} scope; the token has ${[...found.scopes].join(', ')}` };
  }
  return { status: 'allowed', token: found };
}

/** A short, stable, non-secret key of a token (its hash's first 16 hex digits), for rate limiting. */
export function tokenKey(token: ApiToken): string {
  return token.sha256.toString('hex').slice(0, 16);
}
