import { describe, expect, it } from 'vitest';
import { instantMs } from '../../src/server/schemas.js';

describe('instantMs', () => {
  it.each([
    '2023-09-28T07:00:00.000Z',
    '2023-09-28T07:00:00Z',
    '2000-02-29T12:00:00-05:30',
    '2024-12-31T23:59:59.999+14:00',
    '0000-01-01T00:00:00Z',
    '0099-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59.999+23:59',
    '2024-01-01T00:00:00.5Z',
    '2024-01-01T00:00:00.123456Z',
  ])('reads %s as Date.parse does', (text) => {
    expect(instantMs(text)).toBe(Date.parse(text));
  });

  it.each([
    ['a day the month does not have', '2023-02-29T00:00:00Z'],
    ['February 29th of a century not divisible by 400', '1900-02-29T00:00:00Z'],
    ['no zone', '2024-01-01T00:00:00'],
    ['a lower-case zone', '2024-01-01T00:00:00.000z'],
    ['a lower-case T', '2024-01-01t00:00:00Z'],
    ['a date alone', '2024-01-01'],
    ['hour 24', '2024-01-01T24:00:00Z'],
    ['second 60', '2024-01-01T00:00:60Z'],
    ['a fraction point without digits', '2024-01-01T00:00:00.Z'],
    ['an offset without a colon', '2024-01-01T00:00:00+0100'],
    ['a signed year', '+02024-01-01T00:00:00Z'],
    ['other digits than ASCII', '２０２４-01-01T00:00:00Z'],
    ['text after the zone', '2024-01-01T00:00:00Z '],
  ])('refuses %s', (_what, text) => {
    expect(instantMs(text)).toBeNaN();
  });
});
