import { describe, expect, it } from 'vitest';
import { standardScale } from '../../src/detectors/index.js';
import { readNumericCsv } from '../helpers/fixtures.js';

describe('standardScale over the whole float range', () => {
  const rides = readNumericCsv('dbscan_rides_5k.csv');

  it.each([2 ** 500, 2 ** 700, 2 ** 1000])('scales rides blown up by %d to exactly the bits of the rides themselves', (factor) => {
    const ordinary = standardScale([rides.ride_dist_km, rides.ride_time_min]);
    const blownUp = standardScale([rides.ride_dist_km.map((value) => value * factor), rides.ride_time_min.map((value) => value * factor)]);
    expect(blownUp.scaled).toEqual(ordinary.scaled);
    expect(blownUp.mean).toEqual(ordinary.mean.map((mean) => mean * factor));
    expect(blownUp.std).toEqual(ordinary.std.map((std) => std * factor));
  });

  it('scales five rides of 1e308 km among ordinary ones, which keep one scaled value', () => {
    const distances = rides.ride_dist_km.slice();
    for (const row of [3, 100, 200, 300, 400]) distances[row] = 1e308;
    const { scaled: [scaled], mean, std } = standardScale([distances]);
    expect(scaled.every(Number.isFinite)).toBe(true);
    expect(mean[0] / (1e308 / distances.length)).toBeCloseTo(5, 10);
    expect(Number.isFinite(std[0])).toBe(true);
    expect(scaled[3]).toBeCloseTo(Math.sqrt(distances.length / 5 - 1), 10);
    expect(new Set(Array.from(scaled).filter((_, row) => distances[row] !== 1e308)).size).toBe(1);
  });

  it('scales the largest floats there are', () => {
    const { scaled, mean, std } = standardScale([Float64Array.of(-Number.MAX_VALUE, Number.MAX_VALUE, 0), Float64Array.of(Number.MAX_VALUE, Number.MAX_VALUE)]);
    expect(mean).toEqual([0, Number.MAX_VALUE]);
    expect(std[0]).toBeCloseTo(Number.MAX_VALUE * Math.sqrt(2 / 3), -290);
    expect(Array.from(scaled[0])).toEqual([-Math.sqrt(1.5), Math.sqrt(1.5), 0].map((value) => expect.closeTo(value, 15)));
    // A constant column still divides by 1, as sklearn does.
    expect(std[1]).toBe(1);
    expect(Array.from(scaled[1])).toEqual([0, 0]);
  });
});
