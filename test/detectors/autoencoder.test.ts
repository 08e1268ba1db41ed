import { describe, expect, it } from 'vitest';
import {
  autoencoderFromJson,
  autoencoderToJson,
  scoreWithAutoencoder,
  trainAutoencoder,
  type AutoencoderJson,
  type AutoencoderOptions,
} from '../../src/detectors/index.js';
import { accumulateGradient, createWorkspace, initialParameters, parameterCount } from '../../src/detectors/autoencoder/network.js';
import { InputError } from '../../src/errors.js';
import { SeededRandom } from '../../src/random.js';
import { generateSensorTraffic } from '../../src/sample/index.js';

const MINUTES_PER_DAY = 1440;
const SAMPLE = { sensors: 20, days: 35, from: '2024-03-04', seed: 7 };

/** A sensor's minutes a..b as the (timestamps, values) pair the detectors take. */
function minutes(sensor: ReturnType<typeof generateSensorTraffic>, from: number, to: number) {
  return [sensor.timestampsMs.slice(from, to), sensor.bytes.slice(from, to)] as const;
}

function sameBits(a: Float64Array, b: Float64Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('autoencoder network', () => {
  it('has backpropagated gradients equal to central finite differences', () => {
    const layerSizes = [7, 5, 3, 5, 4];
    const random = new SeededRandom(3);
    const parameters = initialParameters(layerSizes, random);
    // Non-zero biases, so that their gradients are exercised away from the initial point.
    for (let i = 0; i < parameters.length; i++) parameters[i] += 0.3 * random.normal();
    const input = Float64Array.from({ length: 7 }, () => random.uniform(-1, 1));
    const target = Float64Array.from({ length: 4 }, () => random.uniform(-1, 1));
    const workspace = createWorkspace(layerSizes);
    const loss = (at: Float64Array, gradient = new Float64Array(at.length)) => {
      workspace.activations[0].set(input);
      return accumulateGradient(at, target, 0, 1, gradient, workspace);
    };
    const gradient = new Float64Array(parameterCount(layerSizes));
    loss(parameters, gradient);
    const step = 1e-6;
    for (let i = 0; i < parameters.length; i++) {
      const nudged = parameters.slice();
      nudged[i] += step;
      const up = loss(nudged);
      nudged[i] -= 2 * step;
      const down = loss(nudged);
      const numeric = (up - down) / (2 * step);
      expect(Math.abs(gradient[i] - numeric)).toBeLessThan(1e-7 + 1e-5 * Math.abs(numeric));
    }
  });
});

describe('autoencoder training and scoring', () => {
  const sensor = generateSensorTraffic(0, { ...SAMPLE, days: 10 });
  const [trainTimes, trainBytes] = minutes(sensor, 0, 8 * MINUTES_PER_DAY);
  const [dayTimes, dayBytes] = minutes(sensor, 9 * MINUTES_PER_DAY, 10 * MINUTES_PER_DAY);
  const options: AutoencoderOptions = { epochs: 4, seed: 11 };
  const { model, trainingErrors, epochLosses } = trainAutoencoder(trainTimes, trainBytes, options);

  it('trains the same model for the same seed and a different one for another seed', () => {
    const again = trainAutoencoder(trainTimes, trainBytes, options);
    expect(sameBits(again.model.parameters, model.parameters)).toBe(true);
    expect(again.trainingErrors).toEqual(trainingErrors);
    const otherSeed = trainAutoencoder(trainTimes, trainBytes, { ...options, seed: 12 });
    expect(sameBits(otherSeed.model.parameters, model.parameters)).toBe(false);
  });

  it('learns: the loss falls, and the threshold is mean + k std of the training errors', () => {
    expect(epochLosses[epochLosses.length - 1]).toBeLessThan(epochLosses[0]);
    expect(model.layerSizes).toEqual([36, 16, 8, 16, 32]);
    expect(trainingErrors.threshold).toBeCloseTo(model.errorMean + 5 * model.errorStd, 12);
    expect(trainingErrors.points).toBe(trainBytes.filter((value) => !Number.isNaN(value)).length);
  });

  it('expects values near the observed ones and flags a burst far above them', () => {
    const burst = dayBytes.slice();
    for (let t = 600; t < 605; t++) burst[t] *= 20;
    const { expected, isAnomaly, score, error } = scoreWithAutoencoder(model, dayTimes, burst);
    expect(Array.from(isAnomaly.subarray(600, 605))).toEqual([1, 1, 1, 1, 1]);
    expect(score[602]).toBeGreaterThan(model.sigmas);
    // Elsewhere the reconstruction follows the series to within its noise (up to ~15% a minute at night).
    const misses = Array.from(dayBytes, (value, t) => Math.abs(expected[t] - value) / value).filter((miss) => miss === miss);
    expect(misses.sort((a, b) => a - b)[misses.length >> 1]).toBeLessThan(0.2);
    expect(error.every((value, t) => Number.isNaN(value) === Number.isNaN(burst[t]))).toBe(true);
  });

  it('never flags a missing minute and scores it NaN', () => {
    const gappy = dayBytes.slice();
    gappy.fill(Number.NaN, 100, 140);
    const { isAnomaly, score, expected } = scoreWithAutoencoder(model, dayTimes, gappy);
    expect(Array.from(isAnomaly.subarray(100, 140)).every((flag) => flag === 0)).toBe(true);
    expect(Array.from(score.subarray(100, 140)).every(Number.isNaN)).toBe(true);
    expect(Array.from(expected.subarray(100, 140)).every(Number.isFinite)).toBe(true);
  });

  it('scores bit-identically with a model read back from JSON text', () => {
    const restored = autoencoderFromJson(JSON.parse(JSON.stringify(autoencoderToJson(model))));
    const before = scoreWithAutoencoder(model, dayTimes, dayBytes);
    const after = scoreWithAutoencoder(restored, dayTimes, dayBytes);
    for (const field of ['expected', 'error', 'score'] as const) expect(sameBits(after[field], before[field])).toBe(true);
    expect(after.isAnomaly).toEqual(before.isAnomaly);
  });

  it.each<[string, (json: AutoencoderJson) => unknown, RegExp]>([
    ['not an object', () => 'model', /expected an object/],
    ['another kind', (json) => ({ ...json, kind: 'isolation-forest' }), /kind "autoencoder" version 2/],
    ['a version without flat-line limits', ({ flatLineLimits: _limits, ...json }) => ({ ...json, version: 1 }), /kind "autoencoder" version 2, got kind "autoencoder" version 1/],
    ['flat-line limits for 23 hours', (json) => ({ ...json, flatLineLimits: json.flatLineLimits.slice(1) }), /flatLineLimits must be 24 finite numbers >= 0/],
    ['a truncated parameter list', (json) => ({ ...json, parameters: json.parameters.slice(1) }), /parameters must be 1416 numbers .* got 1415/],
    ['a parameter that was NaN (null in JSON)', (json) => JSON.parse(JSON.stringify({ ...json, parameters: [...json.parameters.slice(0, 9), Number.NaN, ...json.parameters.slice(10)] })), /parameters\[9\] must be a finite number, got null/],
    ['layers that do not fit the window', (json) => ({ ...json, layerSizes: [32, 16, 8, 16, 32] }), /layerSizes must start with the window plus 4/],
    ['an unknown transform', (json) => ({ ...json, valueTransform: 'sqrt' }), /valueTransform/],
    ['an empty range', (json) => ({ ...json, scaleMax: json.scaleMin }), /scaleMax must be a finite number above scaleMin/],
    ['a zero error spread', (json) => ({ ...json, errorStd: 0 }), /errorStd must be a finite number > 0, got 0/],
    ['a stride beyond the window', (json) => ({ ...json, scoringStride: 33 }), /scoringStride must be a whole number in 1..32, got 33/],
    ['a missing threshold factor', ({ sigmas: _sigmas, ...json }) => json, /sigmas must be a finite number > 0, got undefined/],
  ])('refuses a model with %s, naming what is wrong', (_case, corrupt, message) => {
    const json = autoencoderToJson(model);
    expect(() => autoencoderFromJson(corrupt(json))).toThrow(InputError);
    expect(() => autoencoderFromJson(corrupt(json))).toThrow(message);
  });

  it('refuses series it cannot score', () => {
    expect(() => scoreWithAutoencoder(model, dayTimes.slice(0, 20), dayBytes.slice(0, 20))).toThrow(/fewer than the window of 32/);
    expect(() => scoreWithAutoencoder(model, dayTimes, dayBytes.slice(1))).toThrow(/1440 timestamps but 1439 values/);
    expect(() => scoreWithAutoencoder(model, dayTimes, dayBytes.map((value, t) => (t === 7 ? Infinity : value)))).toThrow(/Infinity at index 7/);
    expect(() => trainAutoencoder(trainTimes, trainBytes, { hiddenSizes: [] })).toThrow(InputError);
    expect(() => trainAutoencoder(trainTimes.slice(0, 40), trainBytes.slice(0, 40))).toThrow(/fewer than two windows/);
  });
});

describe('autoencoder flat-lines', () => {
  const sensor = generateSensorTraffic(0, { ...SAMPLE, days: 10 });
  /** The sensor's bytes with every night from 01:00 to 05:00 at 0, as a site with no traffic at night reports. */
  const quietNights = sensor.bytes.map((value, minute) => (minute % MINUTES_PER_DAY >= 60 && minute % MINUTES_PER_DAY < 300 ? 0 : value));
  const [trainTimes, trainBytes] = minutes(sensor, 0, 8 * MINUTES_PER_DAY);
  const [dayTimes, dayBytes] = minutes(sensor, 9 * MINUTES_PER_DAY, 10 * MINUTES_PER_DAY);
  const { model } = trainAutoencoder(trainTimes, trainBytes, { epochs: 4, seed: 11 });
  const quietModel = trainAutoencoder(trainTimes, quietNights.slice(0, 8 * MINUTES_PER_DAY), { epochs: 4, seed: 11 }).model;
  const stuck = (bytes: Float64Array, from: number, to: number) => bytes.map((value, t) => (t >= from && t < to ? bytes[from - 1] : value));
  const count = (flags: Uint8Array, from = 0, to = flags.length) => flags.subarray(from, to).reduce((sum, flag) => sum + flag, 0);

  it('flags every minute of a counter that stops moving, which the reconstruction error alone misses', () => {
    const { flatLine, isAnomaly, score } = scoreWithAutoencoder(model, dayTimes, stuck(dayBytes, 600, 660));
    expect(count(flatLine, 600, 660)).toBe(dayBytes.subarray(600, 660).filter((value) => !Number.isNaN(value)).length);
    expect(count(isAnomaly, 600, 660)).toBe(count(flatLine, 600, 660));
    expect(Array.from(score.subarray(610, 650)).every((z) => z < model.sigmas)).toBe(true);
    expect(count(scoreWithAutoencoder(model, dayTimes, dayBytes).flatLine)).toBe(0);
  });

  it('learns the stillness each hour shows on most days: quiet nights are normal, a daytime flat-line is not', () => {
    const quietDay = quietNights.slice(9 * MINUTES_PER_DAY, 10 * MINUTES_PER_DAY);
    expect(quietModel.flatLineLimits.slice(1, 5)).toEqual([0, 0, 0, 0]);
    expect(count(scoreWithAutoencoder(quietModel, dayTimes, quietDay).flatLine)).toBe(0);
    expect(count(scoreWithAutoencoder(quietModel, dayTimes, stuck(quietDay, 600, 660)).flatLine, 600, 660)).toBeGreaterThan(50);
  });

  it('needs three training days at an hour to judge it: trained on two, it has no limit', () => {
    const twoDays = trainAutoencoder(...minutes(sensor, 0, 2 * MINUTES_PER_DAY), { epochs: 1 }).model;
    expect(twoDays.flatLineLimits.filter((limit) => limit > 0)).toHaveLength(0);
  });
});
