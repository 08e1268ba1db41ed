import { describe, expect, it } from 'vitest';
import { explainByConditionalBands } from '../../src/detectors/index.js';

describe('explainByConditionalBands', () => {
  // Inliers: time ≈ 3 × distance, ±20% as in traffic; two outliers appended.
  const count = 400;
  const distance = new Float64Array(count + 2);
  const time = new Float64Array(count + 2);
  const labels = new Int32Array(count + 2);
  for (let i = 0; i < count; i++) {
    distance[i] = 1 + (i % 20);
    time[i] = 3 * distance[i] * (1 + (0.2 * ((i % 7) - 3)) / 3);
  }
  distance[count] = 5; // 5 km in 60 min: time is the surprise
  time[count] = 60;
  distance[count + 1] = 90; // 90 km in 30 min: distance is the surprise given time
  time[count + 1] = 30;
  labels[count] = -1;
  labels[count + 1] = -1;

  it('picks the feature most surprising given the other, with expected value and band', () => {
    const [slowRide, farRide] = explainByConditionalBands([distance, time], labels, [count, count + 1]);
    expect(slowRide.feature).toBe(1);
    expect(slowRide.givenFeature).toBe(0);
    expect(slowRide.value).toBe(60);
    expect(slowRide.expected).toBeCloseTo(15, 0);
    expect(slowRide.sigmas).toBeGreaterThan(5);
    expect(slowRide.low).toBeLessThan(slowRide.expected);
    expect(slowRide.high).toBeGreaterThan(slowRide.expected);

    expect(farRide.feature).toBe(0);
    expect(farRide.givenFeature).toBe(1);
    expect(farRide.expected).toBeCloseTo(10, 0);
    expect(farRide.sigmas).toBeGreaterThan(5);
  });

  it('falls back to an unconditional band for one feature', () => {
    const values = Float64Array.from([...Array.from({ length: 100 }, (_, i) => i % 10), 100]);
    const flags = Int32Array.from([...new Array(100).fill(0), -1]);
    values[99] = -50;
    flags[99] = -1;
    const [high, low] = explainByConditionalBands([values], flags, [100, 99]);
    expect(high).toMatchObject({ feature: 0, givenFeature: 0, value: 100 });
    expect(high.expected).toBeCloseTo(4.5, 1);
    expect(high.sigmas).toBeGreaterThan(30);
    expect(low.sigmas).toBeLessThan(-15);
  });
});
