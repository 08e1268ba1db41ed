/** Zod schemas several routes share: one source for validating requests and for the OpenAPI document. */
import { z } from 'zod';
import { addDays, dayNumber, isoDateOf } from '../dates.js';
import { InputError } from '../errors.js';

/** The body of every error answer. */
export const ErrorSchema = z.object({ status: z.literal('error'), msg: z.string().describe('what went wrong, in one line') });

/** Error answers a route may give, for the OpenAPI document. */
export const errorResponses = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, ErrorSchema]));

/**
 * A registered model's name, `<model>/<entity>` (`bus_iforest/B3`), or a model alone (`bus_iforest`).
 * The model part is lower_snake_case and the entity a plain word (no `/`, no `..`): a name can
 * never reach outside the registry, whatever it is used for.
 */
export const ModelNameSchema = z
  .string()
  .max(200)
  .regex(/^[a-z][a-z0-9_]{0,99}(\/[A-Za-z0-9_:@+-][A-Za-z0-9_.:@+-]{0,99})?$/, 'must be <model>/<entity>: a lower_snake_case model and an entity of letters, digits and _.:@+- not starting with a dot')
  .describe('a registered model: <model>/<entity>, e.g. bus_iforest/B3');

/** Text a client names things with (a pipeline, an entity): no control characters, which the database refuses. */
export const NameSchema = z.string().min(1).max(200).regex(/^[^\u0000-\u001f\u007f]+$/, 'must be text without control characters');

/** A run's id (`20240103T020000Z-ab12cd`) or a prefix of one. */
export const RunIdSchema = z.string().regex(/^[0-9A-Za-z-]{1,64}$/, 'must be a run id or a prefix of one (letters, digits and -)');

/** An instant as ISO 8601 with a time zone, e.g. `2023-09-28T07:00:00.000Z`. */
export const InstantSchema = z.iso.datetime({ offset: true }).describe('ISO 8601 date and time with a zone, e.g. 2023-09-28T07:00:00.000Z');

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two decimal digits of `text` at `at` as a number; NaN unless both are digits. */
function twoDigits(text: string, at: number): number {
  const tens = text.charCodeAt(at) - 48;
  const ones = text.charCodeAt(at + 1) - 48;
  return tens >= 0 && tens <= 9 && ones >= 0 && ones <= 9 ? tens * 10 + ones : Number.NaN;
}

/** Days from 1970-01-01 to a day of the proleptic Gregorian calendar (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  return era * 146_097 + yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear - 719_468;
}

/**
 * `text` as ms since the epoch when it is an instant {@link InstantSchema} takes
 * (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` on a real calendar day), else NaN. Checked and read
 * in one pass by hand, without zod's per-value cost: a request may hold thousands. Fractions
 * other than milliseconds are read by Date.parse, as before.
 */
export function instantMs(text: string): number {
  const length = text.length;
  if (length < 20 || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return Number.NaN;
  const year = twoDigits(text, 0) * 100 + twoDigits(text, 2);
  const month = twoDigits(text, 5);
  const day = twoDigits(text, 8);
  const hour = twoDigits(text, 11);
  const minute = twoDigits(text, 14);
  const second = twoDigits(text, 17);
  // NaN fails every comparison: a non-digit anywhere above ends here.
  if (!(year >= 0 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) return Number.NaN;
  const leapDay = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0;
  if (day > DAYS_IN_MONTH[month - 1] + leapDay) return Number.NaN;
  let at = 19;
  let fractionDigits = 0;
  let milliseconds = 0;
  if (text[at] === '.') {
    for (at++; at < length && text.charCodeAt(at) >= 48 && text.charCodeAt(at) <= 57; at++, fractionDigits++) milliseconds = milliseconds * 10 + text.charCodeAt(at) - 48;
    if (fractionDigits === 0) return Number.NaN;
  }
  let offsetMinutes = 0;
  if (text[at] === 'Z') at++;
  else if ((text[at] === '+' || text[at] === '-') && text[at + 3] === ':') {
    const offsetHours = twoDigits(text, at + 1);
    const offsetRest = twoDigits(text, at + 4);
    if (!(offsetHours <= 23 && offsetRest <= 59)) return Number.NaN;
    offsetMinutes = (text[at] === '+' ? 1 : -1) * (offsetHours * 60 + offsetRest);
    at += 6;
  } else return Number.NaN;
  if (at !== length) return Number.NaN;
  if (fractionDigits !== 0 && fractionDigits !== 3) return Date.parse(text);
  return (((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute - offsetMinutes) * 60 + second) * 1000 + milliseconds;
}

/**
 * The serializer of routes whose answers are large (1,440 points, 10,000 probabilities) and built
 * by the route itself in exactly their schema's shape: written as they are, not checked against
 * the schema again on every answer. The schema still documents them.
 */
export const writtenAsBuilt = () => (answer: unknown) => JSON.stringify(answer);

export const IsoDateSchema = z.iso.date().describe('YYYY-MM-DD');

/** A cursor as the API gives it out: base64url of a small JSON object, opaque to clients. */
export function encodeCursor(position: object): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** A cursor the API gave out, read back through `schema`; InputError for anything else. */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch (error) {
    throw new InputError('cursor is not one this API gave out: pass nextCursor of the previous page as it is', { cause: error });
  }
}

/** A number for JSON: NaN (nothing said) becomes null. */
export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** Longest span of dates one request may cover. */
export const MAX_WINDOW_DAYS = 366;

/**
 * The dates a request covers: `to` (default today, UTC) and `from` (default 30 days before it).
 *
 * @throws InputError when from is after to, or the span has more than MAX_WINDOW_DAYS days.
 */
export function dateWindow(query: { from?: string; to?: string }): { from: string; to: string } {
  const to = query.to ?? isoDateOf(new Date());
  const from = query.from ?? addDays(to, -30);
  if (from > to) throw new InputError(`from ${from} is after to ${to}`);
  if (dayNumber(to) - dayNumber(from) >= MAX_WINDOW_DAYS) throw new InputError(`at most ${MAX_WINDOW_DAYS} days per request, ${from}..${to} has more`);
  return { from, to };
}
