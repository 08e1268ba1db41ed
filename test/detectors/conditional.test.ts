import { describe, expect, it } from 'vitest';
import { fitRideTimeModel, RIDE_VERDICT, scoreRideTimes, type RideColumns } from '../../src/detectors/index.js';
import { SeededRandom } from '../../src/random.js';

/** Minutes a ride of `km` takes at `hour` in the hand-built city: 2 min to start, 20 km/h by day, 40 km/h at night. */
const usualMinutes = (km: number, hour: number) => 2 + (km / (hour < 6 ? 40 : 20)) * 60;

interface Ride {
  km: number;
  minutes: number;
  hour: number;
  vehicle: number;
  dayOfWeek?: number;
  /** Day of the window (default 0). */
  day?: number;
}

/**
 * A fleet of 200 vehicles, each driving 40 rides a day at every hour: distances log-normal around
 * 3 km, times the usual ones within ±10% (a symmetric, seeded spread).
 */
function fleetDay(seed = 1): Ride[] {
  const random = new SeededRandom(seed);
  const rides: Ride[] = [];
  for (let vehicle = 0; vehicle < 200; vehicle++) {
    for (let k = 0; k < 40; k++) {
      const km = 3 * Math.exp(0.6 * random.normal());
      const hour = random.next() * 24;
      rides.push({ km, minutes: usualMinutes(km, hour) * (0.9 + 0.2 * random.next()), hour, vehicle });
    }
  }
  return rides;
}

function columns(rides: readonly Ride[], withVehicles = true): RideColumns {
  return {
    distance: Float64Array.from(rides, (ride) => ride.km),
    durationMin: Float64Array.from(rides, (ride) => ride.minutes),
    hourOfDay: Float64Array.from(rides, (ride) => ride.hour),
    dayOfWeek: Uint8Array.from(rides, (ride) => ride.dayOfWeek ?? 1),
    ...(withVehicles ? { vehicle: Int32Array.from(rides, (ride) => ride.vehicle), vehicleCount: 300 } : {}),
    day: Int32Array.from(rides, (ride) => ride.day ?? 0),
    dayCount: Math.max(...rides.map((ride) => ride.day ?? 0)) + 1,
  };
}

const OPTIONS = { sigmas: 5, distanceSigmas: 4, maxSpeed: 150 };

function score(rides: readonly Ride[], { withVehicles = true, byDayOfWeek = false } = {}) {
  const model = fitRideTimeModel(columns(rides, withVehicles), { minSupport: 50, byDayOfWeek });
  return scoreRideTimes(model, columns(rides, withVehicles), OPTIONS);
}

const flaggedRows = (verdicts: Uint8Array) => [...verdicts.keys()].filter((row) => verdicts[row] !== 0);

describe('conditional ride times: expected time given distance and hour', () => {
  it('flags nothing in a fleet whose rides all take the usual time, and expects the usual time', () => {
    const rides = fleetDay();
    const scores = score(rides);
    expect(flaggedRows(scores.verdict)).toEqual([]);
    // The band's median is the usual time of the ride's distance and hour, within the cell's width.
    for (const row of [0, 100, 2000, 7000]) {
      expect(scores.expected[row] / usualMinutes(rides[row].km, rides[row].hour)).toBeGreaterThan(0.85);
      expect(scores.expected[row] / usualMinutes(rides[row].km, rides[row].hour)).toBeLessThan(1.15);
      expect(scores.low[row]).toBeLessThan(scores.expected[row]);
      expect(scores.high[row]).toBeGreaterThan(scores.expected[row]);
    }
  });

  it('finds a ride too long, one too short and too fast, one beyond every distance, and nothing else', () => {
    const planted: Ride[] = [
      { km: 5, minutes: 90, hour: 10.5, vehicle: 250 }, // usual: 17 min
      { km: 10, minutes: 3, hour: 14.2, vehicle: 251 }, // 200 km/h; usual: 32 min
      { km: 400, minutes: 330, hour: 12.5, vehicle: 252 }, // 73 km/h: a plausible speed, a distance no one drives
      { km: 5, minutes: 8.5, hour: 3.5, vehicle: 253 }, // usual at night (40 km/h); by day it would be short
    ];
    const rides = [...fleetDay(), ...planted];
    const scores = score(rides);
    const first = rides.length - planted.length;
    expect(flaggedRows(scores.verdict)).toEqual([first, first + 1, first + 2]);
    expect(scores.verdict[first]).toBe(RIDE_VERDICT.tooLong);
    expect(scores.timeSigmas[first]).toBeGreaterThan(5);
    expect(scores.expected[first]).toBeCloseTo(usualMinutes(5, 10.5), -1);
    expect(scores.high[first]).toBeLessThan(90);
    expect(scores.verdict[first + 1]).toBe(RIDE_VERDICT.tooShort | RIDE_VERDICT.tooFast);
    expect(scores.verdict[first + 2]).toBe(RIDE_VERDICT.farDistance);
    expect(scores.distanceSigmas[first + 2]).toBeGreaterThan(4);
    for (const row of [first, first + 1, first + 2]) {
      expect(scores.score[row]).toBeGreaterThan(0);
      expect(scores.score[row]).toBeLessThan(1);
    }
  });

  it('counts each vehicle once: a stuck meter logging 60 rides of 0.07 km is not what such rides usually take', () => {
    const stuck: Ride[] = Array.from({ length: 60 }, (_, k) => ({ km: 0.07, minutes: 30 + (k % 20), hour: 8 + (k % 10) / 10, vehicle: 7 }));
    const rides = [...fleetDay(), ...stuck];
    const first = rides.length - stuck.length;
    const scores = score(rides);
    expect(flaggedRows(scores.verdict)).toEqual(stuck.map((_, k) => first + k));
    for (let row = first; row < rides.length; row++) {
      expect(scores.verdict[row]).toBe(RIDE_VERDICT.tooLong);
      // Too few rides of 0.07 km: compared with the nearest longer distance that has enough vehicles.
      expect(scores.comparedDistance[row]).toBeGreaterThan(0.07);
      expect(scores.high[row]).toBeLessThan(30);
    }
    // Without vehicles, its 60 rides would teach the model that 30–50 minutes is usual for 0.07 km at 8 o'clock.
    const blind = score(rides, { withVehicles: false });
    expect(flaggedRows(blind.verdict).filter((row) => row >= first).length).toBeLessThan(stuck.length / 2);
  });

  it('learns a day-of-week shift from a window of weeks: a Sunday ride at Sunday speed is usual', () => {
    // Two weeks; on Sundays (0) the same rides take 40% less time.
    const weeks = [0, 1].flatMap((week) =>
      [0, 1, 2, 3, 4, 5, 6].flatMap((dayOfWeek) => fleetDay(10 * week + dayOfWeek).map((ride) => ({ ...ride, dayOfWeek, day: 7 * week + dayOfWeek, minutes: dayOfWeek === 0 ? ride.minutes * 0.6 : ride.minutes }))),
    );
    const sunday: Ride = { km: 8, minutes: usualMinutes(8, 11.5) * 0.6, hour: 11.5, vehicle: 3, dayOfWeek: 0, day: 14 };
    const monday: Ride = { ...sunday, dayOfWeek: 1, day: 15 };
    const window = columns([...weeks, sunday, monday]);
    const probe = columns([sunday, monday]);
    const byWeekday = scoreRideTimes(fitRideTimeModel(window, { minSupport: 50, byDayOfWeek: true }), probe, OPTIONS);
    expect([...byWeekday.verdict]).toEqual([0, RIDE_VERDICT.tooShort]);
    expect(byWeekday.expected[0]).toBeCloseTo(usualMinutes(8, 11.5) * 0.6, -1);
    // Without day-of-week terms both are judged by a band spanning all days.
    const pooled = scoreRideTimes(fitRideTimeModel(window, { minSupport: 50, byDayOfWeek: false }), probe, OPTIONS);
    expect(pooled.expected[0]).toBe(pooled.expected[1]);
  });

  it('leaves out rides with a missing value, and judges nothing with too few rides to learn from', () => {
    const rides = fleetDay().slice(0, 30);
    const data = columns(rides);
    data.durationMin[0] = Number.NaN;
    const scores = scoreRideTimes(fitRideTimeModel(data, { minSupport: 50, byDayOfWeek: false }), data, OPTIONS);
    expect(scores.verdict[0]).toBe(0);
    expect(scores.expected[0]).toBeNaN();
    // 30 rides: no cell reaches 50 vehicles, so no band to compare with; only impossible speeds are found.
    expect(flaggedRows(scores.verdict)).toEqual([]);
    expect(scores.expected[1]).toBeNaN();
  });
});
