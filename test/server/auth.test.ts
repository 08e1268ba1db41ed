import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { apiTokens, type Scope } from '../../src/server/index.js';
import { authorize } from '../../src/server/auth.js';

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

describe('API tokens', () => {
  const tokens = apiTokens(
    [{ name: 'dashboards', sha256: sha256('dashboard-token-0001'), scopes: ['read'] }],
    'detect-token-000000002:detect, admin-token-0000000003:admin,both-token-00000000004:read+detect',
  );

  it.each<[string, string | undefined, Scope, string]>([
    ['no header', undefined, 'read', 'unauthenticated'],
    ['another scheme', 'Basic ZGFzaGJvYXJkOng=', 'read', 'unauthenticated'],
    ['an unknown token', 'Bearer dashboard-token-0002', 'read', 'unauthenticated'],
    ['a config token (hashed) with its scope', 'Bearer dashboard-token-0001', 'read', 'allowed'],
    ['a config token without the scope', 'bearer dashboard-token-0001', 'detect', 'forbidden'],
    ['an environment token with its scope', 'Bearer detect-token-000000002', 'detect', 'allowed'],
    ['an environment token without the scope', 'Bearer detect-token-000000002', 'admin', 'forbidden'],
    ['admin, which holds every scope', 'Bearer admin-token-0000000003', 'read', 'allowed'],
    ['two scopes joined by +', 'Bearer both-token-00000000004', 'detect', 'allowed'],
  ])('%s → %s', (_case, header, scope, expected) => {
    expect(authorize(tokens, header, scope).status).toBe(expected);
  });

  it('keeps hashes only, and names what a forbidden token lacks without showing it', () => {
    expect(tokens.map((token) => token.sha256.toString('hex'))).toEqual([sha256('dashboard-token-0001'), sha256('detect-token-000000002'), sha256('admin-token-0000000003'), sha256('both-token-00000000004')]);
    expect(authorize(tokens, 'Bearer dashboard-token-0001', 'admin')).toEqual({ status: 'forbidden', reason: 'this route needs the admin scope; the token has read' });
  });

  it.each([
    ['short:read', 'DETOUR_API_TOKENS entry 1: expected TOKEN:scope[+scope] with a token of 16 or more letters, digits or ._~+/=-'],
    ['long-enough-token-000', 'DETOUR_API_TOKENS entry 1: expected TOKEN:scope[+scope] with a token of 16 or more letters, digits or ._~+/=-'],
    ['long-enough-token-000:read,other-long-token-00:write', 'DETOUR_API_TOKENS entry 2: unknown scope "write" (scopes: read, detect, admin)'],
    ['with space in token 000:read', 'DETOUR_API_TOKENS entry 1: expected TOKEN:scope[+scope] with a token of 16 or more letters, digits or ._~+/=-'],
  ])('refuses DETOUR_API_TOKENS=%j with one line', (value, message) => {
    expect(() => apiTokens([], value)).toThrow(new InputError(message));
  });

  it('has no tokens when none are configured', () => {
    expect(apiTokens([], undefined)).toEqual([]);
    expect(apiTokens([], ' , ')).toEqual([]);
  });
});
