import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { dueRuns, nextTick, type PipelineSchedule } from '../../src/scheduler/index.js';

const dailyUtc: PipelineSchedule = { cron: '0 1 * * *', timezone: 'UTC', catchup: true, lagDays: 1 };
const at = (iso: string) => new Date(iso);

/** dueRuns as plain [tick ISO, logical date] pairs, so tables read like a calendar. */
function due(schedule: PipelineSchedule, since: string | null, now: string): [string, string][] {
  return dueRuns(schedule, since === null ? null : at(since), at(now)).map(({ tickAt, logicalDate }) => [tickAt.toISOString(), logicalDate]);
}

describe('dueRuns', () => {
  it.each<[string, PipelineSchedule, string | null, string, [string, string][]]>([
    [
      'daily 01:00 UTC, last tick three days ago: the three missed days, oldest first',
      dailyUtc,
      '2024-03-01T01:00:00Z',
      '2024-03-04T12:00:00Z',
      [
        ['2024-03-02T01:00:00.000Z', '2024-03-01'],
        ['2024-03-03T01:00:00.000Z', '2024-03-02'],
        ['2024-03-04T01:00:00.000Z', '2024-03-03'],
      ],
    ],
    ['catchup off: only the latest missed day', { ...dailyUtc, catchup: false }, '2024-03-01T01:00:00Z', '2024-03-04T12:00:00Z', [['2024-03-04T01:00:00.000Z', '2024-03-03']]],
    ['never ran: only the latest tick, no backfill', dailyUtc, null, '2024-03-04T12:00:00Z', [['2024-03-04T01:00:00.000Z', '2024-03-03']]],
    ['never ran, before the first tick of today: yesterday’s tick', dailyUtc, null, '2024-03-04T00:59:59Z', [['2024-03-03T01:00:00.000Z', '2024-03-02']]],
    ['nothing new since the last tick', dailyUtc, '2024-03-04T01:00:00Z', '2024-03-04T12:00:00Z', []],
    ['catchup off and nothing new', { ...dailyUtc, catchup: false }, '2024-03-04T01:00:00Z', '2024-03-04T12:00:00Z', []],
    ['a tick exactly at now is due', dailyUtc, '2024-03-03T01:00:00Z', '2024-03-04T01:00:00Z', [['2024-03-04T01:00:00.000Z', '2024-03-03']]],
    ['never ran, now exactly on a tick', dailyUtc, null, '2024-03-04T01:00:00Z', [['2024-03-04T01:00:00.000Z', '2024-03-03']]],
    ['lag 1 across a leap day', dailyUtc, '2024-02-29T01:00:00Z', '2024-03-01T02:00:00Z', [['2024-03-01T01:00:00.000Z', '2024-02-29']]],
    ['lag 1 across a new year', dailyUtc, '2023-12-31T01:00:00Z', '2024-01-01T02:00:00Z', [['2024-01-01T01:00:00.000Z', '2023-12-31']]],
    ['lag 0 processes the tick’s own day', { ...dailyUtc, lagDays: 0 }, '2024-03-03T01:00:00Z', '2024-03-04T02:00:00Z', [['2024-03-04T01:00:00.000Z', '2024-03-04']]],
    ['lag 7 processes the same weekday a week before', { ...dailyUtc, lagDays: 7 }, '2024-03-03T01:00:00Z', '2024-03-04T02:00:00Z', [['2024-03-04T01:00:00.000Z', '2024-02-26']]],
    [
      'hourly: every hour since the last tick, all on the same logical day',
      { cron: '0 * * * *', timezone: 'UTC', catchup: true, lagDays: 0 },
      '2024-03-01T10:00:00Z',
      '2024-03-01T13:30:00Z',
      [
        ['2024-03-01T11:00:00.000Z', '2024-03-01'],
        ['2024-03-01T12:00:00.000Z', '2024-03-01'],
        ['2024-03-01T13:00:00.000Z', '2024-03-01'],
      ],
    ],
    [
      'a 6-part cron with seconds',
      { cron: '30 0 * * * *', timezone: 'UTC', catchup: true, lagDays: 0 },
      '2024-03-01T10:00:30Z',
      '2024-03-01T11:30:00Z',
      [['2024-03-01T11:00:30.000Z', '2024-03-01']],
    ],
    [
      'New York: 01:00 local is 06:00 UTC in winter',
      { ...dailyUtc, timezone: 'America/New_York' },
      '2024-01-14T06:00:00Z',
      '2024-01-15T12:00:00Z',
      [['2024-01-15T06:00:00.000Z', '2024-01-14']],
    ],
    [
      'Tokyo: 00:30 local falls on the previous UTC day, the logical date follows the local day',
      { ...dailyUtc, cron: '30 0 * * *', timezone: 'Asia/Tokyo' },
      '2024-02-29T15:30:00Z',
      '2024-03-01T16:00:00Z',
      [['2024-03-01T15:30:00.000Z', '2024-03-01']],
    ],
  ])('%s', (_case, schedule, since, now, expected) => {
    expect(due(schedule, since, now)).toEqual(expected);
  });

  describe('across DST changes, a daily 02:30 local schedule runs once per day', () => {
    it.each<[string, string, string | null, string, [string, string][]]>([
      [
        'Berlin spring forward (31 March 2024: 02:30 does not exist, runs at 03:00 CEST)',
        'Europe/Berlin',
        '2024-03-29T01:30:00Z',
        '2024-04-02T00:00:00Z',
        [
          ['2024-03-30T01:30:00.000Z', '2024-03-29'],
          ['2024-03-31T01:00:00.000Z', '2024-03-30'],
          ['2024-04-01T00:30:00.000Z', '2024-03-31'],
        ],
      ],
      [
        'Berlin fall back (27 October 2024: 02:30 happens twice, runs on the first)',
        'Europe/Berlin',
        '2024-10-25T00:30:00Z',
        '2024-10-29T00:00:00Z',
        [
          ['2024-10-26T00:30:00.000Z', '2024-10-25'],
          ['2024-10-27T00:30:00.000Z', '2024-10-26'],
          ['2024-10-28T01:30:00.000Z', '2024-10-27'],
        ],
      ],
      [
        'New York spring forward (10 March 2024: runs at 03:00 EDT)',
        'America/New_York',
        '2024-03-09T07:30:00Z',
        '2024-03-12T00:00:00Z',
        [
          ['2024-03-10T07:00:00.000Z', '2024-03-09'],
          ['2024-03-11T06:30:00.000Z', '2024-03-10'],
        ],
      ],
      [
        'New York fall back (3 November 2024)',
        'America/New_York',
        '2024-11-02T06:30:00Z',
        '2024-11-05T00:00:00Z',
        [
          ['2024-11-03T07:30:00.000Z', '2024-11-02'],
          ['2024-11-04T07:30:00.000Z', '2024-11-03'],
        ],
      ],
      ['never ran, on the day 02:30 does not exist', 'Europe/Berlin', null, '2024-03-31T12:00:00Z', [['2024-03-31T01:00:00.000Z', '2024-03-30']]],
    ])('%s', (_case, timezone, since, now, expected) => {
      expect(due({ cron: '30 2 * * *', timezone, catchup: true, lagDays: 1 }, since, now)).toEqual(expected);
    });

    it('an hourly schedule runs both 02:30s of the Berlin fall-back night', () => {
      const hourly: PipelineSchedule = { cron: '30 * * * *', timezone: 'Europe/Berlin', catchup: true, lagDays: 0 };
      expect(due(hourly, '2024-10-26T23:30:00Z', '2024-10-27T03:00:00Z')).toEqual([
        ['2024-10-27T00:30:00.000Z', '2024-10-27'], // 02:30 CEST
        ['2024-10-27T01:30:00.000Z', '2024-10-27'], // 02:30 CET
        ['2024-10-27T02:30:00.000Z', '2024-10-27'], // 03:30 CET
      ]);
    });
  });

  it.each<[string, Partial<PipelineSchedule>, RegExp]>([
    ['an out-of-range minute', { cron: '99 * * * *' }, /^schedule "99 \* \* \* \*": invalid cron expression \(.*minute.*\)$/],
    ['too few fields', { cron: 'every day' }, /^schedule "every day": invalid cron expression/],
    ['an empty expression', { cron: '' }, /^schedule "": invalid cron expression/],
    ['a date instead of a pattern', { cron: '2024-03-01T01:00:00' }, /^schedule "2024-03-01T01:00:00": invalid cron expression \(a date, not a recurring pattern\)$/],
    ['an unknown time zone', { timezone: 'Mars/Olympus_Mons' }, /^schedule "0 1 \* \* \*": unknown time zone "Mars\/Olympus_Mons"/],
    ['an empty time zone', { timezone: '' }, /unknown time zone ""/],
    ['a negative lag', { lagDays: -1 }, /lagDays must be an integer >= 0, got -1/],
    ['a fractional lag', { lagDays: 0.5 }, /lagDays must be an integer >= 0, got 0.5/],
  ])('rejects %s with one clear InputError line', (_case, override, message) => {
    const schedule = { ...dailyUtc, ...override };
    const call = () => dueRuns(schedule, null, at('2024-03-04T12:00:00Z'));
    expect(call).toThrow(InputError);
    expect(call).toThrow(message);
    try {
      call();
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });
});

describe('nextTick', () => {
  it.each<[string, PipelineSchedule, string, string | null]>([
    ['the next tick later today', dailyUtc, '2024-03-04T00:00:00Z', '2024-03-04T01:00:00.000Z'],
    ['strictly after a tick', dailyUtc, '2024-03-04T01:00:00Z', '2024-03-05T01:00:00.000Z'],
    ['in the schedule’s time zone', { ...dailyUtc, timezone: 'Europe/Berlin' }, '2024-03-04T00:30:00Z', '2024-03-05T00:00:00.000Z'],
    ['null for a date that never comes (31 February)', { ...dailyUtc, cron: '0 0 31 2 *' }, '2024-03-04T00:00:00Z', null],
  ])('%s', (_case, schedule, after, expected) => {
    expect(nextTick(schedule, at(after))?.toISOString() ?? null).toBe(expected);
  });

  it('validates like dueRuns', () => {
    expect(() => nextTick({ ...dailyUtc, cron: '99 * * * *' }, new Date())).toThrow(InputError);
  });
});
