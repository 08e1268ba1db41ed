import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { Scheduler, type PipelineSchedule, type SchedulerOptions } from '../../src/scheduler/index.js';

const daily: PipelineSchedule = { cron: '0 1 * * *', timezone: 'UTC', catchup: true, lagDays: 1 };

/** The store's side of scheduling: a unique (pipeline, logicalDate) claim, shared by schedulers. */
class MemoryClaims {
  private readonly tickAtByKey = new Map<string, Date>();

  claim = async (pipeline: string, logicalDate: string, tickAt: Date): Promise<boolean> => {
    await delay(1); // a round trip, so concurrent schedulers really interleave
    const key = `${pipeline}/${logicalDate}`;
    if (this.tickAtByKey.has(key)) return false;
    this.tickAtByKey.set(key, tickAt);
    return true;
  };

  lastTick = async (pipeline: string): Promise<Date | null> => {
    await delay(1);
    const ticks = [...this.tickAtByKey].filter(([key]) => key.startsWith(`${pipeline}/`)).map(([, tickAt]) => tickAt.getTime());
    return ticks.length === 0 ? null : new Date(Math.max(...ticks));
  };

  /** Logical dates claimed for a pipeline, in the order the claims were made. */
  claimedDates(pipeline: string): string[] {
    return [...this.tickAtByKey.keys()].filter((key) => key.startsWith(`${pipeline}/`)).map((key) => key.slice(pipeline.length + 1));
  }
}

/** Two schedulers sharing one claim store and one fake clock, recording every launch. */
function cluster(options: Partial<SchedulerOptions> & { launchMs?: number } = {}) {
  const claims = new MemoryClaims();
  const clock = { now: new Date('2024-03-01T01:00:30Z') };
  const launches: { scheduler: string; pipeline: string; logicalDate: string }[] = [];
  const errors: { pipeline: string; logicalDate: string | null; message: string }[] = [];
  const make = (scheduler: string) =>
    new Scheduler({
      schedules: { rides: daily },
      claim: claims.claim,
      lastTick: claims.lastTick,
      launch: async (pipeline, logicalDate) => {
        launches.push({ scheduler, pipeline, logicalDate });
        await delay(options.launchMs ?? 5);
      },
      now: () => clock.now,
      onError: (pipeline, logicalDate, error) => errors.push({ pipeline, logicalDate, message: (error as Error).message }),
      ...options,
    });
  return { claims, clock, launches, errors, a: make('a'), b: make('b') };
}

const datesOf = (runs: { logicalDate: string }[]) => runs.map((run) => run.logicalDate);

describe('Scheduler', () => {
  it('after three days down, two schedulers ticking at once launch each missed date exactly once', async () => {
    const { claims, clock, launches, errors, a, b } = cluster();
    // Running normally: the first tick launches yesterday's date.
    expect(await a.tick()).toEqual([{ pipeline: 'rides', logicalDate: '2024-02-29' }]);
    launches.length = 0;

    clock.now = new Date('2024-03-04T12:00:00Z'); // both schedulers were stopped for three days
    const [fromA, fromB] = await Promise.all([a.tick(), b.tick()]);

    expect(datesOf([...fromA, ...fromB]).sort()).toEqual(['2024-03-01', '2024-03-02', '2024-03-03']);
    expect(datesOf(launches).sort()).toEqual(['2024-03-01', '2024-03-02', '2024-03-03']);
    // Claims land in date order: a scheduler claims a date only after every earlier one is claimed.
    // (Launches by different schedulers may overlap in time; only each one's own are ordered.)
    expect(claims.claimedDates('rides')).toEqual(['2024-02-29', '2024-03-01', '2024-03-02', '2024-03-03']);
    // Each scheduler launches its share oldest first (both got some: they really raced).
    for (const name of ['a', 'b']) {
      const own = datesOf(launches.filter((launch) => launch.scheduler === name));
      expect(own.length).toBeGreaterThan(0);
      expect(own).toEqual([...own].sort());
    }
    expect(errors).toEqual([]);

    // Nothing is due any more, from either scheduler.
    expect(await Promise.all([a.tick(), b.tick()])).toEqual([[], []]);
    expect(launches).toHaveLength(3);

    // The next day brings exactly the next date.
    clock.now = new Date('2024-03-05T01:00:00Z');
    const next = await Promise.all([a.tick(), b.tick()]);
    expect(next.flat()).toEqual([{ pipeline: 'rides', logicalDate: '2024-03-04' }]);
  });

  it('with catchup off, launches only the latest missed date', async () => {
    const { clock, a } = cluster({ schedules: { rides: { ...daily, catchup: false } } });
    await a.tick();
    clock.now = new Date('2024-03-04T12:00:00Z');
    expect(datesOf(await a.tick())).toEqual(['2024-03-03']);
    expect(await a.tick()).toEqual([]);
  });

  it('reports a failed launch and still launches the next date', async () => {
    const { claims, clock, errors, a } = cluster();
    await a.tick();
    clock.now = new Date('2024-03-04T12:00:00Z');
    const launched: string[] = [];
    const flaky = new Scheduler({
      schedules: { rides: daily },
      claim: claims.claim,
      lastTick: claims.lastTick,
      launch: async (_pipeline, logicalDate) => {
        if (logicalDate === '2024-03-02') throw new Error('queue refused 2024-03-02');
        launched.push(logicalDate);
      },
      now: () => clock.now,
      onError: (pipeline, logicalDate, error) => errors.push({ pipeline, logicalDate, message: (error as Error).message }),
    });
    expect(datesOf(await flaky.tick())).toEqual(['2024-03-01', '2024-03-03']);
    expect(launched).toEqual(['2024-03-01', '2024-03-03']);
    expect(errors).toEqual([{ pipeline: 'rides', logicalDate: '2024-03-02', message: 'queue refused 2024-03-02' }]);
  });

  it('stops a pipeline at a failed claim, so the date is picked up next tick instead of skipped', async () => {
    const claims = new MemoryClaims();
    let storeDown = false;
    const errors: (string | null)[] = [];
    let now = new Date('2024-03-01T02:00:00Z');
    const scheduler = new Scheduler({
      schedules: { rides: daily },
      claim: async (pipeline, logicalDate, tickAt) => {
        if (storeDown && logicalDate === '2024-03-02') throw new Error('connection reset');
        return claims.claim(pipeline, logicalDate, tickAt);
      },
      lastTick: claims.lastTick,
      launch: async () => {},
      now: () => now,
      onError: (_pipeline, logicalDate) => errors.push(logicalDate),
    });
    await scheduler.tick();
    now = new Date('2024-03-04T12:00:00Z');
    storeDown = true;
    expect(datesOf(await scheduler.tick())).toEqual(['2024-03-01']);
    expect(errors).toEqual(['2024-03-02']);
    storeDown = false;
    expect(datesOf(await scheduler.tick())).toEqual(['2024-03-02', '2024-03-03']);
  });

  it('keeps pipelines independent: one store failure does not stop another pipeline', async () => {
    const claims = new MemoryClaims();
    const errors: [string, string | null][] = [];
    const scheduler = new Scheduler({
      schedules: { rides: daily, flights: { ...daily, cron: '0 2 * * *' } },
      claim: claims.claim,
      lastTick: async (pipeline) => {
        if (pipeline === 'flights') throw new Error('flights table locked');
        return claims.lastTick(pipeline);
      },
      launch: async () => {},
      now: () => new Date('2024-03-04T12:00:00Z'),
      onError: (pipeline, logicalDate) => errors.push([pipeline, logicalDate]),
    });
    expect(await scheduler.tick()).toEqual([{ pipeline: 'rides', logicalDate: '2024-03-03' }]);
    expect(errors).toEqual([['flights', null]]);
  });

  it('rejects an invalid schedule when constructed', () => {
    const claims = new MemoryClaims();
    const make = () =>
      new Scheduler({ schedules: { rides: { ...daily, cron: '0 25 * * *' } }, claim: claims.claim, lastTick: claims.lastTick, launch: async () => {} });
    expect(make).toThrow(InputError);
    expect(make).toThrow(/schedule "0 25 \* \* \*": invalid cron expression/);
  });

  it('start() ticks at once and on an interval without overlapping ticks; stop() waits for the running tick', async () => {
    const claims = new MemoryClaims();
    let now = new Date('2024-03-01T02:00:00Z');
    let launching = 0;
    let ticksStartedDuringLaunch = 0;
    let ticksStarted = 0;
    const launched: string[] = [];
    const scheduler = new Scheduler({
      schedules: { rides: daily },
      claim: claims.claim,
      lastTick: async (pipeline) => {
        ticksStarted++;
        if (launching > 0) ticksStartedDuringLaunch++;
        return claims.lastTick(pipeline);
      },
      launch: async (_pipeline, logicalDate) => {
        launching++;
        await delay(40); // far longer than the interval
        launched.push(logicalDate);
        launching--;
      },
      now: () => now,
    });
    scheduler.start(5);
    await delay(20);
    expect(ticksStarted).toBe(1); // the immediate tick is still launching; beats were skipped
    now = new Date('2024-03-02T02:00:00Z');
    await scheduler.stop();
    expect(launching).toBe(0);
    const ticksAtStop = ticksStarted;
    await delay(30);
    expect(ticksStarted).toBe(ticksAtStop);
    expect(ticksStartedDuringLaunch).toBe(0);
    expect(launched[0]).toBe('2024-02-29');
  });
});
