import { describe, expect, it } from 'vitest';
import { holdOut, trainableDetector, type FeatureRows } from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { generateSensorTraffic, incidentDetection, observedMinutes, sumIncidentDetections, TRAFFIC_INCIDENT_KINDS, type IncidentDetection, type SensorTraffic } from '../../src/sample/index.js';

const MINUTES_PER_DAY = 1440;
const SAMPLE = { sensors: 20, days: 35, from: '2024-03-04', seed: 7 };
const autoencoder = trainableDetector('autoencoder');

/** Minutes `from..to` of a sensor as the lake holds them (a row per observed minute), `bytes` changed or not. */
function sensorRows(sensor: SensorTraffic, from: number, to: number, bytes = sensor.bytes): FeatureRows {
  const observed = observedMinutes({ ...sensor, bytes }, from, to);
  return { features: ['bytes'], columns: [observed.bytes], timestampsMs: observed.timestampsMs };
}

/** The verdicts of rows `rows` as a flag per minute of `from..to`. */
function minuteFlags(rows: FeatureRows, anomalous: Uint8Array, sensor: SensorTraffic, from: number, to: number): Uint8Array {
  const flags = new Uint8Array(to - from);
  rows.timestampsMs.forEach((time, row) => (flags[Math.round((time - sensor.timestampsMs[from]) / 60_000)] = anomalous[row]));
  return flags;
}

describe('the autoencoder as a trainable detector', () => {
  const sensor = generateSensorTraffic(0, { ...SAMPLE, days: 10 });
  const params = autoencoder.params.parse({ epochs: 4, seed: 11 });
  const { training, validation } = holdOut(sensorRows(sensor, 0, 9 * MINUTES_PER_DAY), 0.1);
  const fitted = autoencoder.fit(training, validation, params);
  if ('skipped' in fitted) throw new Error(fitted.skipped);
  const model = autoencoder.load(JSON.parse(JSON.stringify(fitted.artifact)));
  const day = 9 * MINUTES_PER_DAY;

  it('fits one sensor’s rows on a grid of their usual spacing, with the defaults it was not given', () => {
    expect(fitted.metrics).toMatchObject({ step_seconds: 60, training_points: training.columns[0].length, validation_loss: expect.any(Number), validation_flagged_share: expect.any(Number) });
    expect(fitted.metrics.validation_loss).toBeLessThan(fitted.metrics.error_threshold);
    expect(params).toMatchObject({ windowSize: 32, hiddenSizes: [16, 8, 16], epochs: 4, sigmas: 5, flatLineWindow: 16, valueTransform: 'log1p', minTrainingDays: 7 });
  });

  it('scores a day’s rows: a burst and a stuck counter are anomalous, the rest within the usual band', () => {
    const bytes = sensor.bytes.map((value, minute) => (minute >= day + 600 && minute < day + 605 ? value * 20 : minute >= day + 900 && minute < day + 960 ? sensor.bytes[day + 899] : value));
    const rows = sensorRows(sensor, day, day + MINUTES_PER_DAY, bytes);
    const scores = autoencoder.score(model, rows);
    const flags = minuteFlags(rows, scores.anomalous, sensor, day, day + MINUTES_PER_DAY);
    expect(Array.from(flags.subarray(600, 605))).toEqual([1, 1, 1, 1, 1]);
    expect(flags.subarray(900, 960).every((flag) => flag === 1)).toBe(true);
    const row = (minute: number) => rows.timestampsMs.indexOf(sensor.timestampsMs[day + minute]);
    expect(scores.score[row(602)]).toBeGreaterThan(0.5);
    expect(scores.score[row(930)]).toBe(1);
    // Outside the 65 changed minutes, at most 1% of the day is flagged.
    expect(flags.reduce((sum, flag) => sum + flag, 0) - 65).toBeLessThanOrEqual(0.01 * MINUTES_PER_DAY);
    const normal = Array.from(scores.anomalous, (flag, r) => (flag === 0 ? r : -1)).filter((r) => r >= 0);
    for (const r of normal) {
      expect(scores.score[r]).toBeLessThanOrEqual(0.5);
      expect(scores.lower[r]).toBeLessThan(scores.expected[r]);
      expect(scores.upper[r]).toBeGreaterThan(scores.expected[r]);
    }
  });

  it('gives no verdict on fewer rows than a window, or on rows too sparse to be a series', () => {
    const scores = autoencoder.score(model, sensorRows(sensor, day, day + 20));
    expect(Array.from(scores.anomalous)).toEqual(new Array(20).fill(0));
    expect(Array.from(scores.score).every(Number.isNaN)).toBe(true);
    const day9 = sensorRows(sensor, day, day + MINUTES_PER_DAY);
    const firstAndLast: FeatureRows = { ...day9, columns: [Float64Array.of(day9.columns[0][0], day9.columns[0].at(-1) ?? 0)], timestampsMs: Float64Array.of(day9.timestampsMs[0], day9.timestampsMs.at(-1) ?? 0) };
    expect(Array.from(autoencoder.score(model, firstAndLast).score).every(Number.isNaN)).toBe(true);
  });

  it('skips an entity with too little history, saying why, and refuses what is not one series or not a model', () => {
    const short = holdOut(sensorRows(sensor, 0, 5 * MINUTES_PER_DAY), 0.2);
    expect(autoencoder.fit(short.training, short.validation, params)).toEqual({ skipped: 'training rows span 4.0 days, fewer than minTrainingDays 7 (the network learns the time of week)' });
    const one = sensorRows(sensor, 0, 1);
    expect(autoencoder.fit(one, one, params)).toEqual({ skipped: '1 training rows, too few to fit' });
    const twoSeries: FeatureRows = { ...training, features: ['bytes', 'packets'], columns: [training.columns[0], training.columns[0]] };
    expect(() => autoencoder.fit(twoSeries, validation, params)).toThrow(new InputError('autoencoder: models one series (`value:`), got 2 features (bytes, packets)'));
    expect(() => autoencoder.params.parse({ window: 32 })).toThrow(/window/);
    expect(() => autoencoder.params.parse({ sigmas: 0 })).toThrow(/sigmas/);
    expect(() => autoencoder.load({ autoencoder: (fitted.artifact as { autoencoder: unknown }).autoencoder })).toThrow(/stepMs must be a finite number > 0, got undefined/);
    expect(() => autoencoder.load({ stepMs: 60_000, autoencoder: { kind: 'autoencoder' } })).toThrow(InputError);
  });
});

describe('the autoencoder path on the traffic sample', () => {
  it('finds at least 90% of the incidents of every kind together and flags at most 1% of normal minutes', () => {
    // Eight sensors in a row (offices, homes, data centres), as a pipeline trains them: four weeks
    // of rows, the most recent 20% held out, then each day of the fifth week scored on its own.
    const detections: IncidentDetection[] = [];
    const params = autoencoder.params.parse({});
    for (let sensorIndex = 0; sensorIndex < 8; sensorIndex++) {
      const sensor = generateSensorTraffic(sensorIndex, SAMPLE);
      const { training, validation } = holdOut(sensorRows(sensor, 0, 28 * MINUTES_PER_DAY), 0.2);
      const fitted = autoencoder.fit(training, validation, params);
      if ('skipped' in fitted) throw new Error(fitted.skipped);
      const model = autoencoder.load(fitted.artifact);
      for (let day = 28; day < 35; day++) {
        const [from, to] = [day * MINUTES_PER_DAY, (day + 1) * MINUTES_PER_DAY];
        const rows = sensorRows(sensor, from, to);
        detections.push(incidentDetection(sensor, minuteFlags(rows, autoencoder.score(model, rows).anomalous, sensor, from, to), from));
      }
    }
    const { byKind, normalMinutes, flaggedNormalMinutes } = sumIncidentDetections(detections);
    const incidents = TRAFFIC_INCIDENT_KINDS.reduce((sum, kind) => sum + byKind[kind].incidents, 0);
    const found = TRAFFIC_INCIDENT_KINDS.reduce((sum, kind) => sum + byKind[kind].found, 0);
    const recallByKind = Object.fromEntries(TRAFFIC_INCIDENT_KINDS.map((kind) => [kind, `${byKind[kind].found}/${byKind[kind].incidents}`]));
    console.log('autoencoder path, sensors 0-7:', JSON.stringify({ recallByKind, recall: found / incidents, normalFlaggedShare: flaggedNormalMinutes / normalMinutes }));
    for (const kind of TRAFFIC_INCIDENT_KINDS) expect(byKind[kind].incidents).toBeGreaterThan(0);
    expect(found / incidents).toBeGreaterThanOrEqual(0.9);
    expect(flaggedNormalMinutes / normalMinutes).toBeLessThanOrEqual(0.01);
  }, 240_000);
});
