import { describe, expect, it } from 'vitest';
import { detectShallow, smoothByDistanceWeights } from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { generateSensorTraffic, incidentDetection, sumIncidentDetections, type IncidentDetection } from '../../src/sample/index.js';

const MINUTES_PER_DAY = 1440;
const SAMPLE = { sensors: 20, days: 35, from: '2024-03-04', seed: 7 };

describe('shallow model smoothing', () => {
  it('spreads a unit impulse into rb-aioutliers kernel: 1..h rising towards the point, h²/4 on it', () => {
    // n = 40: window max(floor(0.05 * 40), min(40, floor(5 + ln 40))) = 8, made odd: 9, so h = 4.
    const impulse = new Float64Array(40);
    impulse[20] = 1;
    const kernel = [1, 2, 3, 4, 4, 4, 3, 2, 1];
    const total = kernel.reduce((sum, weight) => sum + weight, 0);
    const smoothed = smoothByDistanceWeights(impulse);
    for (let offset = -4; offset <= 4; offset++) expect(smoothed[20 + offset]).toBeCloseTo(kernel[offset + 4] / total, 15);
    expect(smoothed[15]).toBe(0);
    expect(smoothed[25]).toBe(0);
  });

  it('keeps a constant series and pads the ends with the end values', () => {
    expect(Array.from(smoothByDistanceWeights(new Float64Array(50).fill(3)))).toEqual(new Array(50).fill(3));
    const ramp = Float64Array.from({ length: 40 }, (_, t) => t);
    // At the first point, the 4 padded neighbours before it equal it, so the mean is pulled up only by those after.
    expect(smoothByDistanceWeights(ramp)[0]).toBeCloseTo((1 * 4 + 2 * 3 + 3 * 2 + 4 * 1) / 24, 12);
    expect(Array.from(smoothByDistanceWeights(Float64Array.of(5)))).toEqual([5]);
  });
});

describe('shallow model', () => {
  const sensor = generateSensorTraffic(3, SAMPLE);
  const day = 30 * MINUTES_PER_DAY;
  const timestampsMs = sensor.timestampsMs.slice(day, day + MINUTES_PER_DAY);
  const bytes = sensor.bytes.slice(day, day + MINUTES_PER_DAY);

  it('flags about 1% of a day, the same minutes every time, with the smoothed series as expected values', () => {
    const first = detectShallow(timestampsMs, bytes);
    const again = detectShallow(timestampsMs, bytes);
    expect(again).toEqual(first);
    const flagged = first.isAnomaly.reduce((sum, flag) => sum + flag, 0);
    expect(flagged).toBeGreaterThanOrEqual(10);
    expect(flagged).toBeLessThanOrEqual(20);
    const complete = bytes.map((value) => (Number.isNaN(value) ? 1e8 : value));
    expect(detectShallow(timestampsMs, complete).expected).toEqual(smoothByDistanceWeights(complete));
  });

  it('flags a short burst, and never a missing minute', () => {
    const changed = bytes.slice();
    for (let t = 700; t < 703; t++) changed[t] *= 6;
    changed.fill(Number.NaN, 200, 230);
    const { isAnomaly, score } = detectShallow(timestampsMs, changed);
    expect(Array.from(isAnomaly.subarray(700, 703))).toEqual([1, 1, 1]);
    expect(Array.from(isAnomaly.subarray(200, 230)).every((flag) => flag === 0)).toBe(true);
    expect(Array.from(score.subarray(200, 230)).every(Number.isNaN)).toBe(true);
    expect(score[701]).toBeGreaterThan(0.6);
  });

  it('refuses bad input', () => {
    expect(() => detectShallow(timestampsMs, bytes.slice(1))).toThrow(InputError);
    expect(() => detectShallow(timestampsMs.slice(0, 3), Float64Array.of(1, Number.NaN, Number.NaN))).toThrow(/at least 2 observed/);
    expect(() => detectShallow(timestampsMs, bytes, { contamination: 0.7 })).toThrow(/contamination/);
  });

  it('finds spikes and drops of the traffic sample day by day (no target: the numbers are reported)', () => {
    const detections: IncidentDetection[] = [];
    for (const sensorIndex of [0, 1, 2, 3]) {
      const traffic = generateSensorTraffic(sensorIndex, SAMPLE);
      for (let dayIndex = 28; dayIndex < 35; dayIndex++) {
        const from = dayIndex * MINUTES_PER_DAY;
        const { isAnomaly } = detectShallow(traffic.timestampsMs.slice(from, from + MINUTES_PER_DAY), traffic.bytes.slice(from, from + MINUTES_PER_DAY));
        detections.push(incidentDetection(traffic, isAnomaly, from));
      }
    }
    const { byKind, normalMinutes, flaggedNormalMinutes } = sumIncidentDetections(detections);
    console.log('shallow, 4 sensors:', JSON.stringify({ byKind, normalFlaggedShare: flaggedNormalMinutes / normalMinutes }));
    expect(flaggedNormalMinutes / normalMinutes).toBeLessThan(0.012);
    expect(byKind.spike.found).toBe(byKind.spike.incidents);
  });
});
