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

  it('bins inliers by rank, ties in row order, as a stable sort of the rows would: bands match a sorted reference on heavily tied values', () => {
    const rows = 5_000;
    const given = Float64Array.from({ length: rows }, (_, row) => (row * 7919) % 23); // 23 values, each some 217 times
    const target = Float64Array.from({ length: rows }, (_, row) => ((row * 104729) % 1000) / 10);
    const labels = Int32Array.from({ length: rows }, (_, row) => (row % 97 === 0 ? -1 : 0));
    const outliers = Array.from(labels).flatMap((label, row) => (label < 0 ? [row] : []));
    // Outliers far off in the target: it is the surprising feature, and its band the one shown.
    for (const row of outliers) target[row] = 1_000 + row;
    const bins = 40;
    const bands = explainByConditionalBands([target, given], labels, outliers, { bins });

    // The reference: inliers sorted by value (a stable sort keeps row order among ties), cut into equal-count bins.
    const inliers = [...labels.keys()].filter((row) => labels[row] >= 0).sort((a, b) => given[a] - given[b]);
    const starts = Array.from({ length: bins + 1 }, (_, bin) => Math.floor((bin * inliers.length) / bins));
    const reference = outliers.map((row) => {
      const bin = starts.findIndex((_, b) => b === bins - 1 || given[row] <= given[inliers[starts[b + 1] - 1]]);
      const members = inliers.slice(starts[bin], starts[bin + 1]).map((member) => target[member]);
      const mean = members.reduce((sum, y) => sum + y, 0) / members.length;
      const std = Math.sqrt(members.reduce((sum, y) => sum + y * y, 0) / members.length - mean * mean);
      return { expected: mean, low: mean - 2 * std, high: mean + 2 * std };
    });
    bands.forEach((band, k) => {
      expect(band).toMatchObject({ feature: 0, givenFeature: 1 });
      expect(band.expected).toBeCloseTo(reference[k].expected, 9);
      expect(band.low).toBeCloseTo(reference[k].low, 9);
      expect(band.high).toBeCloseTo(reference[k].high, 9);
    });
  });
});
