import { describe, expect, it } from 'vitest';
import { detectRecordColumns, detectSeries, recordParams, scoreWithTrainedModel, seriesParams, trainableDetector } from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { SeededRandom } from '../../src/random.js';

const MINUTE = 60_000;

/** A day a minute at a time: a daily wave with noise, one spike at `spike`. */
function day(spike: number, seed = 1): { timestampsMs: Float64Array; values: Float64Array } {
  const random = new SeededRandom(seed);
  const timestampsMs = Float64Array.from({ length: 1440 }, (_, minute) => Date.UTC(2024, 0, 1) + minute * MINUTE);
  const values = Float64Array.from({ length: 1440 }, (_, minute) => 50_000 + 20_000 * Math.sin((2 * Math.PI * minute) / 1440) + random.normal() * 300 + (minute === spike ? 40_000 : 0));
  return { timestampsMs, values };
}

describe('detectors by name on data sent with a request', () => {
  it('shallow flags the spike of a day with what was expected there', () => {
    const { timestampsMs, values } = day(700);
    const verdicts = detectSeries('shallow', timestampsMs, values, {});
    expect(verdicts.anomalous[700]).toBe(1);
    expect(verdicts.expected[700]).toBeLessThan(values[700] - 20_000);
    const anomalies = verdicts.anomalous.reduce((sum, flag) => sum + flag, 0);
    expect(verdicts.reasons).toHaveLength(anomalies);
    expect(verdicts.reasons[verdicts.anomalous.subarray(0, 700).reduce((sum, flag) => sum + flag, 0)]).toMatch(/^value \d+ where \d+ was expected \(isolated from its neighbourhood, score 0\.\d\d\)$/);
  });

  it('stream learns its first day, then alerts on a spike of the second with the band it left', () => {
    const first = day(-1, 3);
    const second = day(700, 4);
    const timestampsMs = Float64Array.from([...first.timestampsMs, ...second.timestampsMs.map((time) => time + 86_400_000)]);
    const values = Float64Array.from([...first.values, ...second.values]);
    const verdicts = detectSeries('stream', timestampsMs, values, {});
    expect(verdicts.anomalous.subarray(0, 1440).every((flag) => flag === 0)).toBe(true);
    expect(verdicts.anomalous[1440 + 700]).toBe(1);
    expect(verdicts.upper[1440 + 700]).toBeLessThan(values[1440 + 700]);
    expect(verdicts.reasons).toHaveLength(verdicts.anomalous.reduce((sum, flag) => sum + flag, 0));
    expect(verdicts.reasons).toContainEqual(expect.stringMatching(/^value \d+ is \d+\.\dσ above the expected \d+ for this hour \(band \d+–\d+\)$/));
    expect(() => seriesParams('stream', { threshold: -1 })).toThrow(/^stream params\.threshold: /);
  });

  it('arima flags a jump outside its prediction interval, and cannot model a constant series', () => {
    const random = new SeededRandom(2);
    const values = Float64Array.from({ length: 200 }, (_, t) => 10 + Math.sin(t / 5) + random.normal() * 0.2 + (t === 150 ? 6 : 0));
    const timestampsMs = Float64Array.from(values, (_, t) => t * 86_400_000);
    const verdicts = detectSeries('arima', timestampsMs, values, { maxP: 2, maxQ: 2 });
    expect(verdicts.anomalous[150]).toBe(1);
    expect(verdicts.lower[150]).toBeLessThan(verdicts.expected[150]);
    expect(verdicts.upper[150]).toBeLessThan(values[150]);
    expect(() => detectSeries('arima', timestampsMs, new Float64Array(200).fill(3), {})).toThrow(new InputError('arima cannot model this series: all observed values are equal'));
  });

  it('dbscan explains a record by the feature most surprising given the other', () => {
    const km = Float64Array.from({ length: 300 }, (_, i) => 1 + (i % 20) * 0.5);
    const minutes = Float64Array.from(km, (value, i) => 3 * value + (i % 3) * 0.3);
    minutes[42] = 95;
    const verdicts = detectRecordColumns('dbscan', [km, minutes], ['km', 'minutes'], { minSamples: 5 });
    expect([...verdicts.anomalous.keys()].filter((i) => verdicts.anomalous[i] === 1)).toEqual([42]);
    expect(verdicts.feature[42]).toBe(1);
    expect(verdicts.value[42]).toBe(95);
    expect(verdicts.score[42]).toBeGreaterThan(0.5);
    expect(verdicts.reasons).toEqual([expect.stringMatching(/^minutes 95 is \d+\.\dσ above records of similar km \(expected [\d.]+–[\d.]+\)$/)]);
    // The forest says which feature lies furthest outside its usual range.
    const forest = detectRecordColumns('iforest', [km, minutes], ['km', 'minutes'], { contamination: 0.005 });
    expect(forest.anomalous[42]).toBe(1);
    expect(forest.reasons[0]).toMatch(/^minutes 95 isolated by the forest \(score 0\.\d\d; usual [\d.]+–[\d.]+\)$/);
  });

  it('iforest gives the first feature’s usual range as the band', () => {
    const { timestampsMs, values } = day(300);
    const verdicts = detectSeries('iforest', timestampsMs, values, { contamination: 0.002 });
    expect(verdicts.anomalous[300]).toBe(1);
    expect(verdicts.lower[300]).toBeLessThan(verdicts.expected[300]);
    expect(verdicts.expected[300]).toBeLessThan(verdicts.upper[300]);
    expect(verdicts.reasons[0]).toMatch(/^value \d+ isolated by the forest \(score 0\.\d\d; usual \d+–\d+\)$/);
  });

  it('scores with a trained model through its detector', () => {
    const training = day(-1, 3);
    const detector = trainableDetector('iforest');
    // Rows as a series detector also takes them: with their times.
    const rowsOf = (values: Float64Array, timestampsMs: Float64Array) => ({ features: ['bytes'], columns: [values], timestampsMs });
    const fitted = detector.fit(rowsOf(training.values.subarray(0, 1200), training.timestampsMs.subarray(0, 1200)), rowsOf(training.values.subarray(1200), training.timestampsMs.subarray(1200)), detector.params.parse({ contamination: 0.01 }));
    if ('skipped' in fitted) throw new Error(fitted.skipped);
    const { timestampsMs, values } = day(700, 4);
    values[700] = 500_000;
    const verdicts = scoreWithTrainedModel(detector, detector.load(fitted.artifact), rowsOf(values, timestampsMs), 'sensor_if/s1 v2');
    expect(verdicts.anomalous[700]).toBe(1);
    expect(verdicts.reasons).toContainEqual(expect.stringMatching(/^bytes 500000 scored 0\.\d\d by sensor_if\/s1 v2 \(expected \d+, usual \d+–\d+\)$/));
  });

  it.each([
    [() => seriesParams('shallow', { trees: 0 }), 'shallow params.trees: Too small: expected number to be >=1'],
    [() => seriesParams('arima', { maxP: 9 }), 'arima params.maxP: Too big: expected number to be <=5'],
    [() => seriesParams('iforest', { depth: 3 }), 'iforest params.depth: unknown parameter'],
    [() => recordParams('dbscan', { eps: 'wide' }), 'dbscan params.eps: Invalid input: expected number, received string'],
  ])('checks params with one line: %#', (check, message) => {
    expect(check).toThrow(new InputError(message));
  });
});
