import { describe, expect, it } from 'vitest';
import { generateRideFeatures, generateRidesCsv, INJECTED_ANOMALY_RATE, INJECTED_KINDS, SAMPLE_RIDE_COLUMNS } from '../../src/sample/index.js';

describe('sample rides', () => {
  it('is deterministic for a seed and differs across seeds and dates', () => {
    expect(generateRidesCsv('2024-01-01', 500, 1)).toBe(generateRidesCsv('2024-01-01', 500, 1));
    expect(generateRidesCsv('2024-01-01', 500, 1)).not.toBe(generateRidesCsv('2024-01-01', 500, 2));
    expect(generateRidesCsv('2024-01-01', 500, 1).slice(200)).not.toBe(generateRidesCsv('2024-01-02', 500, 1).slice(200));
  });

  it('writes the documented columns with unique ride ids on the logical date', () => {
    const [header, ...lines] = generateRidesCsv('2024-01-01', 2_000, 5).trim().split('\n');
    expect(header.split(',')).toEqual([...SAMPLE_RIDE_COLUMNS]);
    const rows = lines.map((line) => line.split(','));
    expect(new Set(rows.map((row) => row[0])).size).toBe(2_000);
    for (const [, , pickup, dropoff, distance, time, injected, kind] of rows) {
      expect(pickup.startsWith('2024-01-01 ')).toBe(true);
      expect(dropoff >= pickup).toBe(true);
      expect(Number(distance)).toBeGreaterThan(0);
      expect(Number(time)).toBeGreaterThan(0);
      expect(injected === '1').toBe(kind !== '');
    }
  });

  it('injects about 1% anomalies of every kind, and speed follows the hour of day', () => {
    const rides = generateRideFeatures(200_000, 9);
    const counts = new Array(INJECTED_KINDS.length + 1).fill(0);
    rides.injectedKind.forEach((kind) => counts[kind]++);
    const injectedShare = (rides.injectedKind.length - counts[0]) / rides.injectedKind.length;
    expect(injectedShare).toBeGreaterThan(INJECTED_ANOMALY_RATE * 0.8);
    expect(injectedShare).toBeLessThan(INJECTED_ANOMALY_RATE * 1.2);
    for (const count of counts.slice(1)) expect(count).toBeGreaterThan(400);

    // Median urban speed at the 8 o'clock peak is well below the 3 o'clock night speed.
    const medianSpeed = (hour: number) => {
      const speeds: number[] = [];
      for (let i = 0; i < rides.rideDistKm.length; i++) {
        if (rides.injectedKind[i] === 0 && Math.floor(rides.pickupMinuteOfDay[i] / 60) === hour && rides.rideDistKm[i] < 10) {
          speeds.push(rides.rideDistKm[i] / (rides.rideTimeMin[i] / 60));
        }
      }
      return speeds.sort((a, b) => a - b)[speeds.length >> 1];
    };
    expect(medianSpeed(8)).toBeLessThan(medianSpeed(3) * 0.6);

    // Stuck meters report near-identical tiny distances for long rides.
    for (let i = 0; i < rides.rideDistKm.length; i++) {
      if (INJECTED_KINDS[rides.injectedKind[i] - 1] !== 'stuck_meter') continue;
      expect(rides.rideDistKm[i]).toBeLessThan(0.2);
      expect(rides.rideTimeMin[i]).toBeGreaterThanOrEqual(15);
    }
  });
});
