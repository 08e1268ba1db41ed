import { describe, expect, it } from 'vitest';
import { driftFrom, kolmogorovSmirnov, populationStabilityIndex, referenceDistribution } from '../../src/detectors/index.js';

const f64 = (values: number[]) => Float64Array.from(values);

describe('population stability index', () => {
  // Σ (a − e) · ln(a / e), computed by hand (an empty bin counts as 0.0001).
  it.each([
    { name: 'identical shares', expected: [0.1, 0.2, 0.3, 0.4], actual: [0.1, 0.2, 0.3, 0.4], psi: 0 },
    { name: 'half moved to one side', expected: [0.5, 0.5], actual: [0.25, 0.75], psi: 0.2746530721670274 },
    { name: 'quartiles tilted', expected: [0.25, 0.25, 0.25, 0.25], actual: [0.05, 0.15, 0.3, 0.5], psi: 0.5553730178431032 },
    { name: 'an empty bin stays finite', expected: [0.5, 0.5], actual: [1, 0], psi: 4.60431846666895 },
  ])('$name: $psi', ({ expected, actual, psi }) => {
    expect(populationStabilityIndex(expected, actual)).toBeCloseTo(psi, 12);
  });
});

describe('two-sample Kolmogorov–Smirnov statistic (scipy.stats.ks_2samp)', () => {
  it.each([
    { name: 'same sample', a: [1, 2, 3], b: [1, 2, 3], d: 0 },
    { name: 'half overlapping', a: [1, 2, 3, 4], b: [3, 4, 5, 6], d: 0.5 },
    { name: 'different sizes', a: [0.1, 0.2, 0.3, 0.4, 0.5], b: [0.35, 0.45, 0.55], d: 0.6 },
    { name: 'ties across samples', a: [1, 1, 2], b: [1, 2, 2], d: 1 / 3 },
    { name: 'disjoint', a: [1, 2], b: [3, 4, 5], d: 1 },
  ])('$name: $d', ({ a, b, d }) => {
    expect(kolmogorovSmirnov(a, b)).toBeCloseTo(d, 12);
    expect(kolmogorovSmirnov(b, a)).toBeCloseTo(d, 12);
  });
});

describe('reference distribution and drift', () => {
  it('keeps quantile edges (NumPy method lower), each bin\'s share and evenly spaced order statistics', () => {
    const reference = referenceDistribution(f64([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, Number.NaN]), { bins: 4, sampleSize: 4 });
    expect(reference).toEqual({ rows: 10, edges: [3, 5, 7], proportions: [0.3, 0.2, 0.2, 0.3], sample: [1, 4, 7, 10] });
  });

  it('merges tied edges, so that a feature of few values has fewer bins', () => {
    const reference = referenceDistribution(f64([0, 0, 0, 0, 0, 0, 0, 1, 1, 1]));
    expect(reference.edges).toEqual([0]);
    expect(reference.proportions).toEqual([0.7, 0.3]);
  });

  it('reports a constant reference as constant, without dividing by its zero spread', () => {
    const reference = referenceDistribution(f64([5, 5, 5, 5]));
    expect(driftFrom(reference, f64([5, 6, 7]))).toEqual({ constant: true, rows: 3 });
  });

  it('finds no drift in the training values themselves and much in the same values shifted', () => {
    const values = f64(Array.from({ length: 1000 }, (_, k) => Math.sin(k) * 10 + 20));
    const reference = referenceDistribution(values);
    expect(driftFrom(reference, values)).toEqual({ psi: expect.closeTo(0, 12), ks: 0, rows: 1000 });
    const shifted = driftFrom(reference, values.map((value) => value + 8));
    expect(shifted).toMatchObject({ rows: 1000 });
    expect((shifted as { psi: number }).psi).toBeGreaterThan(1);
    expect((shifted as { ks: number }).ks).toBeGreaterThan(0.3);
  });

  it('measures nothing without finite values', () => {
    expect(driftFrom(referenceDistribution(f64([1, 2, 3])), f64([Number.NaN]))).toEqual({ empty: true });
  });
});
