import { describe, expect, it } from 'vitest';
import { standardScale } from '../../src/detectors/index.js';

describe('standardScale', () => {
  it('centres and divides by the population (ddof=0) standard deviation', () => {
    const { scaled, mean, std } = standardScale([Float64Array.of(1, 2, 3, 4), Float64Array.of(10, 10, 20, 20)]);
    expect(mean).toEqual([2.5, 15]);
    expect(std[0]).toBeCloseTo(Math.sqrt(1.25), 15);
    expect(std[1]).toBe(5);
    expect(Array.from(scaled[1])).toEqual([-1, -1, 1, 1]);
    const root = Math.sqrt(1.25);
    expect(Array.from(scaled[0])).toEqual([-1.5 / root, -0.5 / root, 0.5 / root, 1.5 / root]);
  });

  it('gives a constant column scale 1, as sklearn does', () => {
    const { scaled, mean, std } = standardScale([Float64Array.of(7, 7, 7), new Float64Array(3).fill(0.1)]);
    expect(std).toEqual([1, 1]);
    expect(mean[0]).toBe(7);
    expect(Array.from(scaled[0])).toEqual([0, 0, 0]);
    expect(scaled[1].every((value) => Math.abs(value) < 1e-15)).toBe(true);
  });

  it('scaled columns have mean 0 and variance 1', () => {
    const column = Float64Array.from({ length: 10_001 }, (_, i) => 1e6 + Math.sin(i) * 3 + i * 1e-3);
    const [scaled] = standardScale([column]).scaled;
    const mean = scaled.reduce((sum, value) => sum + value, 0) / scaled.length;
    const variance = scaled.reduce((sum, value) => sum + (value - mean) * (value - mean), 0) / scaled.length;
    expect(Math.abs(mean)).toBeLessThan(1e-9);
    expect(variance).toBeCloseTo(1, 9);
  });

  it('leaves its input untouched and handles no columns', () => {
    const column = Float64Array.of(1, 3);
    standardScale([column]);
    expect(Array.from(column)).toEqual([1, 3]);
    expect(standardScale([])).toEqual({ scaled: [], mean: [], std: [] });
  });

  it('rejects empty columns and non-finite values', () => {
    expect(() => standardScale([new Float64Array(0)])).toThrow(/feature 0 is empty/);
    expect(() => standardScale([Float64Array.of(1), Float64Array.of(1)]).scaled).not.toThrow();
    expect(() => standardScale([Float64Array.of(1, 2), Float64Array.of(1, NaN)])).toThrow(
      /feature 1 has a non-finite value \(NaN\) at row 1/,
    );
    expect(() => standardScale([Float64Array.of(Infinity, 2)])).toThrow(/non-finite value \(Infinity\) at row 0/);
  });
});
