import { describe, expect, it } from 'vitest';
import { detectVehiclePatterns, type PatternOptions, type VehicleTrips } from '../../src/detectors/index.js';
import { logBinomialTail, logPoissonTail } from '../../src/detectors/pattern/index.js';
import { SeededRandom } from '../../src/random.js';

const OPTIONS: PatternOptions = {
  relativeTolerance: 0.01,
  absoluteTolerances: [0.01, 0.1],
  falseAlarms: 0.01,
  minRepeats: 5,
  backToBackMinutes: 1,
  maxFleetOverlapShare: 0.05,
};

interface Trip {
  vehicle: number;
  km: number;
  minutes: number;
  /** Pickup, minutes after midnight. */
  start: number;
}

/**
 * A day of a fleet whose vehicles drive one after another with a break of 5 to 60 minutes between
 * fares: log-normal distances around 3 km, 3 minutes a km.
 */
function fleetDay(vehicles: number, tripsEach: number, seed = 3): Trip[] {
  const random = new SeededRandom(seed);
  const trips: Trip[] = [];
  for (let vehicle = 0; vehicle < vehicles; vehicle++) {
    let clock = random.uniform(0, 120);
    for (let k = 0; k < tripsEach; k++) {
      const km = 3 * Math.exp(0.6 * random.normal());
      const minutes = 2 + 3 * km * random.uniform(0.9, 1.1);
      trips.push({ vehicle, km, minutes, start: clock });
      clock += minutes + random.uniform(5, 60);
    }
  }
  return trips;
}

function columns(trips: readonly Trip[]): VehicleTrips {
  return {
    vehicle: Int32Array.from(trips, (trip) => trip.vehicle),
    vehicleCount: Math.max(...trips.map((trip) => trip.vehicle)) + 1,
    values: [Float64Array.from(trips, (trip) => trip.km), Float64Array.from(trips, (trip) => trip.minutes)],
    startMin: Float64Array.from(trips, (trip) => trip.start),
    endMin: Float64Array.from(trips, (trip) => trip.start + trip.minutes),
  };
}

const flaggedTrips = (tripPattern: Int32Array) => [...tripPattern.keys()].filter((trip) => tripPattern[trip] >= 0);

describe('tails of counts', () => {
  it.each([
    [3, 0.5, 1 - Math.exp(-0.5) * (1 + 0.5 + 0.125)],
    [4, 2, 1 - Math.exp(-2) * (1 + 2 + 2 + 4 / 3)],
    [10, 1, 1.1142547833872197e-7],
  ])('P(Poisson ≥ %d | mean %d) is the sum of its terms', (k, mean, probability) => {
    expect(Math.exp(logPoissonTail(k, mean))).toBeCloseTo(probability, 12);
    expect(logPoissonTail(k, mean) / Math.log(probability)).toBeCloseTo(1, 9);
  });

  it.each([
    [3, 3, 0.5, 0.125],
    [8, 10, 0.5, 56 / 1024],
    [2, 4, 0.1, 1 - 0.9 ** 4 - 4 * 0.1 * 0.9 ** 3],
  ])('P(Binomial ≥ %d | n %d, p %d) is the sum of its terms', (k, n, p, probability) => {
    expect(logBinomialTail(k, n, p) / Math.log(probability)).toBeCloseTo(1, 9);
  });

  it('takes no excess to test as certain, and a count beyond reach as impossible', () => {
    expect(logPoissonTail(2, 5)).toBe(0);
    expect(logBinomialTail(1, 10, 0.5)).toBe(0);
    expect(logBinomialTail(11, 10, 0.5)).toBe(Number.NEGATIVE_INFINITY);
    // Far below what a double holds, still finite on the log scale.
    expect(logPoissonTail(300, 1e-4)).toBeCloseTo(300 * Math.log(1e-4) - 1e-4 - 1414.9058, 3);
  });
});

describe('vehicle patterns', () => {
  it('finds nothing in a fleet of ordinary days', () => {
    const { patterns, tripPattern, fleet } = detectVehiclePatterns(columns(fleetDay(1000, 30)), OPTIONS);
    expect(patterns).toEqual([]);
    expect(flaggedTrips(tripPattern)).toEqual([]);
    expect(fleet).toMatchObject({ trips: 30_000, gaps: 29_000, overlapShare: 0, overlapsTested: true });
    expect(fleet.backToBackShare).toBe(0);
  });

  it('finds a vehicle repeating one distance, and only its repeated trips', () => {
    const trips = fleetDay(300, 30);
    // Vehicle 7's odometer froze: 12 of its trips read 0.07 km (±5 m), whatever their time.
    const stuck = trips.flatMap((trip, index) => (trip.vehicle === 7 && index % 30 < 12 ? [index] : []));
    for (const [k, index] of stuck.entries()) trips[index].km = 0.07 + ((k % 3) - 1) * 0.005;
    const { patterns, tripPattern } = detectVehiclePatterns(columns(trips), OPTIONS);
    expect(patterns).toHaveLength(1);
    expect(patterns[0]).toMatchObject({ vehicle: 7, kind: 'repeated', column: 0, count: 12, total: 30 });
    expect([patterns[0].low, patterns[0].high]).toEqual([expect.closeTo(0.065, 9), expect.closeTo(0.075, 9)]);
    expect(patterns[0].expected).toBeLessThan(0.01);
    expect(patterns[0].score).toBeGreaterThan(0.5);
    expect(flaggedTrips(tripPattern)).toEqual(stuck);
  });

  it('finds a vehicle whose trips follow each other back to back (the meter left running)', () => {
    const trips = fleetDay(300, 30);
    // Vehicle 12's last 15 trips each begin the minute the previous one ends.
    const chained = trips.flatMap((trip, index) => (trip.vehicle === 12 && index % 30 >= 15 ? [index] : []));
    for (const index of chained) trips[index].start = trips[index - 1].start + trips[index - 1].minutes + 0.5;
    const { patterns, tripPattern } = detectVehiclePatterns(columns(trips), OPTIONS);
    expect(patterns.map(({ vehicle, kind, count, total }) => ({ vehicle, kind, count, total }))).toEqual([{ vehicle: 12, kind: 'back_to_back', count: 15, total: 29 }]);
    // Each back-to-back pair: the trip before it and the trip itself.
    expect(flaggedTrips(tripPattern)).toEqual([chained[0] - 1, ...chained]);
  });

  it('finds a vehicle whose trips overlap, unless overlapping is common in the whole fleet', () => {
    const trips = fleetDay(300, 30);
    // Vehicle 5 logs 8 trips that start before the previous one ended (two meters on one car).
    const overlapping = trips.flatMap((trip, index) => (trip.vehicle === 5 && index % 30 >= 20 && index % 30 < 28 ? [index] : []));
    for (const index of overlapping) trips[index].start = trips[index - 1].start + 1;
    const found = detectVehiclePatterns(columns(trips), OPTIONS);
    expect(found.patterns.map(({ vehicle, kind, count }) => ({ vehicle, kind, count }))).toContainEqual({ vehicle: 5, kind: 'overlap', count: 8 });
    expect(found.fleet.overlapsTested).toBe(true);

    // Ids that are not one car at a time (here every vehicle overlaps a third of its trips): not tested.
    const shared = fleetDay(300, 30).map((trip, index) => (index % 3 === 1 ? { ...trip, start: trip.start - 200 } : trip));
    const sharedResult = detectVehiclePatterns(columns(shared), OPTIONS);
    expect(sharedResult.fleet.overlapShare).toBeGreaterThan(OPTIONS.maxFleetOverlapShare);
    expect(sharedResult.fleet.overlapsTested).toBe(false);
    expect(sharedResult.patterns.filter((pattern) => pattern.kind === 'overlap')).toEqual([]);
  });
});
