/**
 * application/x-www-form-urlencoded bodies (rb-aioutliers' form) into their fields, in place of
 * @fastify/formbody's general decoder, which took a millisecond of each request: the fields sent
 * here are base64, percent-encoded, whose only escapes are %2B, %2F and %3D. Those are replaced
 * directly; a field with any other escape goes through decodeURIComponent. A field sent twice is a
 * list, as @fastify/formbody made it (the route schemas then refuse it).
 */
import { isAscii } from 'node:buffer';
import type { FastifyInstance } from 'fastify';
import { InputError } from '../errors.js';

/** A field's raw text decoded: + is a space, %XX the byte XX. */
function formValue(raw: string): string {
  const spaced = raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!spaced.includes('%')) return spaced;
  const base64 = spaced.replaceAll('%2B', '+').replaceAll('%2F', '/').replaceAll('%3D', '=');
  if (!base64.includes('%')) return base64;
  try {
    return decodeURIComponent(spaced);
  } catch (error) {
    // The first % not followed by two hex digits; else every escape is hex, but the bytes are not UTF-8.
    const malformed = raw.match(/%(?![0-9A-Fa-f]{2}).{0,2}/)?.[0] ?? 'not UTF-8';
    throw new InputError(`the form body has a malformed escape (${malformed}): percent-encode it as UTF-8`, { cause: error });
  }
}

/** The fields of a urlencoded body. */
export function formFields(body: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const pair of body.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = formValue(equals < 0 ? pair : pair.slice(0, equals));
    const value = equals < 0 ? '' : formValue(pair.slice(equals + 1));
    const earlier = fields[name];
    fields[name] = earlier === undefined ? value : [earlier, value].flat();
  }
  return fields;
}

/** Parses urlencoded bodies with {@link formFields}. */
export function acceptFormBodies(api: Pick<FastifyInstance, 'addContentTypeParser'>): void {
  api.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
    // A urlencoded body is ASCII when its client encoded it; read as Latin-1 it needs no decoding.
    try {
      done(null, formFields(isAscii(body) ? body.toString('latin1') : body.toString('utf8')));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
