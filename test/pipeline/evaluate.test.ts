import { describe, expect, it } from 'vitest';
import { parseTimestamp } from '../../src/pipeline/index.js';

describe('timestamps of NAB-format files and labels', () => {
  it.each([
    ['2014-02-19 10:50:00.000000', Date.UTC(2014, 1, 19, 10, 50)],
    ['2014-02-19 10:50:00', Date.UTC(2014, 1, 19, 10, 50)],
    ['2014-02-19 10:50', Date.UTC(2014, 1, 19, 10, 50)],
    ['2014-02-19T10:50:00.123456Z', Date.UTC(2014, 1, 19, 10, 50, 0, 123)],
    ['2014-02-19T10:50:00+01:00', Date.UTC(2014, 1, 19, 9, 50)],
    ['2014-02-19', Date.UTC(2014, 1, 19)],
  ])('reads %s as UTC unless it says otherwise', (text, expected) => {
    expect(parseTimestamp(text)).toBe(expected);
  });

  it.each(['yesterday', '19/02/2014 10:50', '2014-02-19 25:00:00', ''])('refuses %j', (text) => {
    expect(parseTimestamp(text)).toBeNaN();
  });
});
