import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { arimaLabel, arimaOneStepPredictions, detectArimaAnomalies, seasonalPeriodOf, type ArimaResult } from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { SeededRandom } from '../../src/sample/index.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);
const AIRPORTS = ['ORD', 'DEN', 'ONT'] as const;

interface FixtureModel {
  params: { const: number; 'ar.L1': number; 'ma.L1': number; sigma2: number };
  bse: { const: number };
  llf: number;
  aic: number;
}
const fixtureModels = JSON.parse(readFileSync(new URL('arima_series.json', FIXTURES), 'utf8')).models as Record<
  string,
  FixtureModel
>;

/** statsmodels' ARIMA(1,0,1) outputs of one airport's 181 days. */
function readAirport(code: string) {
  const lines = readFileSync(new URL('arima_series.csv', FIXTURES), 'utf8').trim().split('\n').slice(1);
  const rows = lines.map((line) => line.split(',')).filter((cells) => cells[0] === code);
  return {
    delay: Float64Array.from(rows, (cells) => Number(cells[2])),
    pred1step: Float64Array.from(rows, (cells) => Number(cells[4])),
    resid: Float64Array.from(rows, (cells) => Number(cells[5])),
    flag3Sigma: Uint8Array.from(rows, (cells) => Number(cells[6])),
  };
}

function maxAbsDifference(a: Float64Array, b: Float64Array): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
  return largest;
}

/** Every per-point output is consistent: finite where predicted, flags exactly outside the interval. */
function expectConsistentPoints(series: Float64Array, result: ArimaResult, firstPredicted: number): void {
  for (let t = 0; t < series.length; t++) {
    if (t < firstPredicted) {
      expect(result.expected[t]).toBeNaN();
      continue;
    }
    expect([result.expected[t], result.lower[t], result.upper[t]].every(Number.isFinite)).toBe(true);
    expect(result.lower[t]).toBeLessThan(result.upper[t]);
    if (Number.isNaN(series[t])) {
      expect(result.zScore[t]).toBeNaN();
      expect(result.isAnomaly[t]).toBe(0);
      continue;
    }
    expect(result.score[t]).toBeGreaterThanOrEqual(0);
    expect(result.score[t]).toBeLessThanOrEqual(1);
    const outside = series[t] < result.lower[t] || series[t] > result.upper[t];
    expect(result.isAnomaly[t]).toBe(outside ? 1 : 0);
  }
}

describe('arimaOneStepPredictions (filter parity with statsmodels)', () => {
  it.each(AIRPORTS)('%s: reproduces pred_1step from the fitted params to 1e-9', (code) => {
    const { delay, pred1step, resid } = readAirport(code);
    const { params } = fixtureModels[code];
    const { expected, variance } = arimaOneStepPredictions(delay, {
      order: [1, 0, 1],
      ar: Float64Array.of(params['ar.L1']),
      ma: Float64Array.of(params['ma.L1']),
      mean: params.const,
      sigma2: params.sigma2,
    });
    expect(maxAbsDifference(expected, pred1step)).toBeLessThan(1e-9);
    expect(maxAbsDifference(Float64Array.from(delay, (value, t) => value - expected[t]), resid)).toBeLessThan(1e-9);
    // Day 0 is predicted by the unconditional mean with the process variance; later ones tend to sigma2.
    expect(expected[0]).toBe(params.const);
    expect(variance[0]).toBeGreaterThan(params.sigma2);
    expect(variance[180] / params.sigma2).toBeCloseTo(1, 9);
  });

  it('rejects coefficients that do not match the order', () => {
    const order: [number, number, number] = [2, 0, 1];
    const model = { order, ar: Float64Array.of(0.5), ma: Float64Array.of(0.1), mean: 0, sigma2: 1 };
    expect(() => arimaOneStepPredictions(new Float64Array(10), model)).toThrow(InputError);
  });
});

describe('detectArimaAnomalies with a fixed ARIMA(1,0,1) (fit parity with statsmodels)', () => {
  it.each(AIRPORTS)('%s: reaches statsmodels log-likelihood, with the same coefficients', (code) => {
    const { delay } = readAirport(code);
    const reference = fixtureModels[code];
    const { model, skipped } = detectArimaAnomalies(delay, { order: [1, 0, 1] });
    expect(skipped).toBeNull();
    expect(model!.order).toEqual([1, 0, 1]);
    expect(model!.logLikelihood).toBeGreaterThanOrEqual(reference.llf - 1e-3);
    expect(model!.logLikelihood).toBeLessThan(reference.llf + 1e-3);
    expect(model!.aic).toBeCloseTo(reference.aic, 2);
    expect(model!.ar[0]).toBeCloseTo(reference.params['ar.L1'], 3);
    expect(model!.ma[0]).toBeCloseTo(reference.params['ma.L1'], 3);
    expect(model!.sigma2 / reference.params.sigma2).toBeCloseTo(1, 3);
    // The likelihood is flat in the mean (ORD: statsmodels stops 0.018 short of the optimum, 0.7% of its standard error).
    expect(Math.abs(model!.mean - reference.params.const)).toBeLessThan(0.02 * reference.bse.const);
  });

  it('flags with 3 sigma the same days as statsmodels on all 543 airport-days', () => {
    let agreeing = 0;
    let total = 0;
    for (const code of AIRPORTS) {
      const { delay, flag3Sigma } = readAirport(code);
      const result = detectArimaAnomalies(delay, { order: [1, 0, 1], intervalSigmas: 3 });
      expectConsistentPoints(delay, result, 0);
      for (let t = 0; t < delay.length; t++) agreeing += result.isAnomaly[t] === flag3Sigma[t] ? 1 : 0;
      total += delay.length;
    }
    expect(agreeing).toBe(total);
  });
});

describe('detectArimaAnomalies order search', () => {
  it.each(AIRPORTS)('%s: the stepwise search returns a valid order and complete outputs', (code) => {
    const { delay } = readAirport(code);
    const result = detectArimaAnomalies(delay);
    const [p, d, q] = result.model!.order;
    expect(result.skipped).toBeNull();
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(5);
    expect(q).toBeGreaterThanOrEqual(0);
    expect(q).toBeLessThanOrEqual(5);
    expect([0, 1]).toContain(d);
    expect(result.model!.ar).toHaveLength(p);
    expect(result.model!.ma).toHaveLength(q);
    expect(Number.isFinite(result.model!.aic) && result.model!.sigma2 > 0).toBe(true);
    expectConsistentPoints(delay, result, d);
  });

  it('picks the order statsmodels would by AIC: ORD and DEN are stationary, MA(1) beats ARMA(1,1)', () => {
    for (const code of ['ORD', 'DEN']) {
      const { model } = detectArimaAnomalies(readAirport(code).delay);
      expect(model!.order).toEqual([0, 0, 1]);
      expect(model!.aic).toBeLessThan(fixtureModels[code].aic);
    }
  });

  it('the grid search is at least as good by AIC as any single order it contains', () => {
    const { delay } = readAirport('ORD');
    const grid = detectArimaAnomalies(delay, { search: 'grid', maxD: 0 });
    for (const order of [[0, 0, 1], [1, 0, 1], [2, 0, 2]] as const) {
      expect(grid.model!.aic).toBeLessThanOrEqual(detectArimaAnomalies(delay, { order }).model!.aic + 1e-2);
    }
  });

  it('respects maxP, maxQ and maxD', () => {
    const { delay } = readAirport('ONT');
    const { model } = detectArimaAnomalies(delay, { maxP: 1, maxQ: 0, maxD: 0 });
    expect(model!.order).toEqual([1, 0, 0]);
  });

  it('is deterministic', () => {
    const { delay } = readAirport('DEN');
    expect(detectArimaAnomalies(delay, { search: 'grid' })).toEqual(detectArimaAnomalies(delay, { search: 'grid' }));
  });

  it('finds injected spikes in a seeded AR(1) series', () => {
    const random = new SeededRandom(7);
    const series = new Float64Array(181);
    let noise = 0;
    for (let t = 0; t < series.length; t++) {
      noise = 0.6 * noise + 4 * random.normal();
      series[t] = 12 + noise;
    }
    const spikeDays = [40, 90, 150];
    for (const day of spikeDays) series[day] += 40;
    const { isAnomaly, score } = detectArimaAnomalies(series, { intervalSigmas: 3 });
    for (const day of spikeDays) {
      expect(isAnomaly[day]).toBe(1);
      expect(score[day]).toBeGreaterThan(0.9973);
    }
    expect(isAnomaly.reduce((sum, flag) => sum + flag, 0)).toBeLessThanOrEqual(spikeDays.length + 2);
  });
});

describe('detectArimaAnomalies missing days and skipped series', () => {
  const withGaps = (() => {
    const series = readAirport('ORD').delay.slice();
    for (const day of [0, 17, 34, 60, 61, 62, 63, 64, 120, 180]) series[day] = Number.NaN;
    return series;
  })();

  it('predicts across gaps with d = 0: every day gets an interval, missing days are never flagged', () => {
    const result = detectArimaAnomalies(withGaps, { maxD: 0, intervalSigmas: 3 });
    expect(result.model!.observations).toBe(171);
    expectConsistentPoints(withGaps, result, 0);
    // A gap widens the interval of the days right after it.
    expect(result.upper[65] - result.lower[65]).toBeGreaterThan(result.upper[59] - result.lower[59]);
  });

  it('with d = 1, leaves only the first day and the days after a missing day without a prediction', () => {
    const result = detectArimaAnomalies(withGaps, { order: [1, 1, 1] });
    const unpredicted = [...result.expected.keys()].filter((t) => Number.isNaN(result.expected[t]));
    // y_t = y_{t-1} + Δy_t needs y_{t-1}; a missing day itself is still predicted when its previous day is known.
    expect(unpredicted).toEqual([0, 1, 18, 35, 61, 62, 63, 64, 65, 121]);
    expect(result.model!.order).toEqual([1, 1, 1]);
  });

  it('fits d = 2 without a mean', () => {
    const { delay } = readAirport('DEN');
    const result = detectArimaAnomalies(delay, { order: [0, 2, 1] });
    expect(result.model!.mean).toBe(0);
    expectConsistentPoints(delay, result, 2);
  });

  it('skips series that are too short, constant, or constant once differenced', () => {
    const short = detectArimaAnomalies(readAirport('ORD').delay.slice(0, 20));
    expect(short.skipped?.reason).toBe('too-short');
    expect(short.model).toBeNull();
    expect(Array.from(short.expected).every(Number.isNaN)).toBe(true);
    expect(short.isAnomaly.every((flag) => flag === 0)).toBe(true);

    expect(detectArimaAnomalies(readAirport('ORD').delay.slice(0, 20), { minHistory: 15 }).skipped).toBeNull();
    expect(detectArimaAnomalies(new Float64Array(100).fill(Number.NaN)).skipped?.reason).toBe('too-short');
    expect(detectArimaAnomalies(new Float64Array(100).fill(7.5)).skipped?.reason).toBe('constant');
    const elevenDays = readAirport('ORD').delay.slice(0, 11);
    const fewerThanParameters = detectArimaAnomalies(elevenDays, { minHistory: 5, order: [5, 0, 5] });
    expect(fewerThanParameters.skipped?.reason).toBe('too-short');
    const trend = Float64Array.from({ length: 100 }, (_, t) => 3 + 0.5 * t);
    expect(detectArimaAnomalies(trend, { order: [1, 1, 0] }).skipped).toEqual({
      reason: 'constant',
      message: 'constant after 1 difference(s)',
    });
  });

  it('rejects bad options and infinite values', () => {
    const series = readAirport('DEN').delay;
    expect(() => detectArimaAnomalies(series, { maxP: -1 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { maxQ: 2.5 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { maxD: 3 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { order: [1, 3, 1] })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { intervalSigmas: 0 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { minHistory: 1 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { search: 'exhaustive' as 'grid' })).toThrow(InputError);
    expect(() => detectArimaAnomalies(Array.from(series) as unknown as Float64Array)).toThrow(InputError);
    const infinite = series.slice();
    infinite[3] = Infinity;
    expect(() => detectArimaAnomalies(infinite)).toThrow(/index 3/);
  });
});

describe('detectArimaAnomalies seasonal terms', () => {
  const WEEKDAY_EFFECT = [2, 2, 2, 2, 3, -4, -12];
  const SPIKE_DAYS = [60, 100, 150];

  /** 26 weeks of a daily value with a strong weekly cycle (a quiet weekend), noise, and three spikes. */
  function weeklySeries(seed: number): Float64Array {
    const random = new SeededRandom(seed);
    const series = Float64Array.from({ length: 182 }, (_, t) => 40 + WEEKDAY_EFFECT[t % 7] * (1 + 0.1 * random.normal()) + 1.5 * random.normal());
    for (const day of SPIKE_DAYS) series[day] += 12;
    return series;
  }
  const flaggedDays = (result: ArimaResult) => [...result.isAnomaly.keys()].filter((t) => result.isAnomaly[t] === 1);

  it('models a strong weekly cycle seasonally: every spike found, fewer false flags than without seasonal terms', () => {
    let seasonalFalse = 0;
    let plainFalse = 0;
    let plainMissed = 0;
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const series = weeklySeries(seed);
      const seasonal = detectArimaAnomalies(series, { intervalSigmas: 3, period: 7 });
      expect(seasonal.model!.seasonal?.period).toBe(7);
      expectConsistentPoints(series, seasonal, 7);
      const flagged = flaggedDays(seasonal);
      expect(flagged).toEqual(expect.arrayContaining(SPIKE_DAYS));
      seasonalFalse += flagged.length - SPIKE_DAYS.length;
      const plain = flaggedDays(detectArimaAnomalies(series, { intervalSigmas: 3 }));
      plainFalse += plain.filter((day) => !SPIKE_DAYS.includes(day)).length;
      plainMissed += SPIKE_DAYS.filter((day) => !plain.includes(day)).length;
    }
    expect(seasonalFalse).toBeLessThan(plainFalse);
    expect(plainMissed).toBeGreaterThan(0);
  });

  it('keeps the non-seasonal order and outputs of series without a cycle', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = new SeededRandom(seed);
      let noise = 0;
      const series = Float64Array.from({ length: 182 }, () => (noise = 0.6 * noise + 4 * random.normal()) + 12);
      const seasonal = detectArimaAnomalies(series, { period: 7 });
      expect(seasonal.model!.seasonal).toBeNull();
      expect(seasonal).toEqual(detectArimaAnomalies(series));
    }
    const { delay } = readAirport('ORD');
    expect(detectArimaAnomalies(delay, { period: 7 }).model!.order).toEqual([0, 0, 1]);
  });

  it('predicts with a seasonal model as its one-step predictions say, and names it as statsmodels would', () => {
    const series = weeklySeries(3);
    const result = detectArimaAnomalies(series, { intervalSigmas: 3, period: 7 });
    const { expected } = arimaOneStepPredictions(series, result.model!);
    expect(maxAbsDifference(expected.subarray(7), result.expected.subarray(7))).toBe(0);
    expect(arimaLabel(result.model!)).toMatch(/^ARIMA\(\d,0,\d\)\([01],1,[01]\)\[7\]$/);
    expect(arimaLabel({ order: [1, 0, 1], seasonal: null })).toBe('ARIMA(1,0,1)');
  });

  it('takes the period from the spacing of the points, and rejects periods it cannot use', () => {
    expect([86_400_000, 3_600_000, 1_800_000, 60_000].map(seasonalPeriodOf)).toEqual([7, 24, 48, 0]);
    const series = weeklySeries(1);
    expect(() => detectArimaAnomalies(series, { period: 1 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { period: 2.5 })).toThrow(InputError);
    expect(() => detectArimaAnomalies(series, { period: 169 })).toThrow(InputError);
  });
});
