/**
 * Scoring with the traffic models, and how well they find the sample's incidents.
 *
 * - `autoencoder`: one day (1,440 minutes) of a sensor's rows scored through the trainable detector
 *   with a model read back from JSON once, as a detect step scores with the model cache's version; `seconds` covers all calls, `median_us` is one call,
 *   `cpu_us_per_call` the process's CPU time per call (what a busy machine inflates less).
 * - `shallow`: rb-aioutliers' shallow model on one day, likewise.
 * - `quality=autoencoder`: every sensor of the 20 x 35-day sample trained on its first 28 days (default
 *   options) and its last 7 days scored day by day; `quality=shallow`: the shallow model on those 7
 *   days. Reported per incident kind: incidents, recall (an incident is found when any of its minutes
 *   is flagged) and minute recall; then over all kinds: incident recall, minute precision, alert
 *   precision (runs of flagged minutes that touch an incident; a false alarm has no kind) and the
 *   share of normal minutes flagged.
 */
import os from 'node:os';
import { detectShallow, holdOut, scoreWithAutoencoder, trainableDetector, trainAutoencoder, type FeatureRows } from '../src/detectors/index.js';
import {
  generateSensorTraffic,
  generateTraffic,
  incidentDetection,
  observedMinutes,
  sumIncidentDetections,
  TRAFFIC_INCIDENT_KINDS,
  type IncidentDetection,
  type SensorTraffic,
} from '../src/sample/index.js';
import type { BenchCase } from './main.js';
import { TRAFFIC_SAMPLE } from './train.js';

const MINUTES_PER_DAY = 1440;
const TRAINING_DAYS = 28;

/** A sensor's minutes `from..to` as the (timestamps, values) pair the detectors take. */
function sensorMinutes(sensor: SensorTraffic, from: number, to: number): [Float64Array, Float64Array] {
  return [sensor.timestampsMs.slice(from, to), sensor.bytes.slice(from, to)];
}

/** Each call's wall microseconds, and the process's CPU microseconds over all calls. */
interface CallTimes {
  micros: Float64Array;
  cpuMicros: number;
}

/**
 * Times `calls` calls of `score` one by one. CPU time is reported beside the wall time: on a
 * machine shared with other work, a call's wall time includes the time it waited for a core.
 */
function timeCalls(calls: number, score: () => unknown): () => CallTimes {
  return () => {
    const micros = new Float64Array(calls);
    const cpuBefore = process.cpuUsage();
    for (let call = 0; call < calls; call++) {
      const started = performance.now();
      score();
      micros[call] = (performance.now() - started) * 1000;
    }
    const cpu = process.cpuUsage(cpuBefore);
    return { micros, cpuMicros: cpu.user + cpu.system };
  };
}

function latencyReport(result: unknown): Record<string, unknown> {
  const { micros, cpuMicros } = result as CallTimes;
  const sorted = micros.slice().sort();
  const at = (quantile: number) => Math.round(sorted[Math.floor(quantile * (sorted.length - 1))]);
  return { calls: sorted.length, median_us: at(0.5), p90_us: at(0.9), cpu_us_per_call: Math.round(cpuMicros / sorted.length), load_average: Number(os.loadavg()[0].toFixed(1)) };
}

/** A sensor's observed minutes `from..to` as rows, as a detect step reads them from the lake. */
function sensorRows(sensor: SensorTraffic, from: number, to: number): FeatureRows {
  const { timestampsMs, bytes } = observedMinutes(sensor, from, to);
  return { features: ['bytes'], columns: [bytes], timestampsMs };
}

/** One day of a sensor scored as a detect step does: its rows, with the sensor's model as the model cache holds it (loaded from JSON once). */
function scoreOneDay(): () => CallTimes {
  const sensor = generateSensorTraffic(0, TRAFFIC_SAMPLE);
  const autoencoder = trainableDetector('autoencoder');
  const { training, validation } = holdOut(sensorRows(sensor, 0, TRAINING_DAYS * MINUTES_PER_DAY), 0.2);
  const fitted = autoencoder.fit(training, validation, autoencoder.params.parse({}));
  if ('skipped' in fitted) throw new Error(`sensor-01 not trained: ${fitted.skipped}`);
  const model = autoencoder.load(JSON.parse(JSON.stringify(fitted.artifact)));
  const today = sensorRows(sensor, TRAINING_DAYS * MINUTES_PER_DAY, (TRAINING_DAYS + 1) * MINUTES_PER_DAY);
  return timeCalls(2_000, () => autoencoder.score(model, today));
}

function shallowOneDay(): () => CallTimes {
  const sensor = generateSensorTraffic(0, TRAFFIC_SAMPLE);
  const [timestampsMs, bytes] = sensorMinutes(sensor, TRAINING_DAYS * MINUTES_PER_DAY, (TRAINING_DAYS + 1) * MINUTES_PER_DAY);
  return timeCalls(500, () => detectShallow(timestampsMs, bytes));
}

/** Flags of one day of a sensor, by one of the two models. */
type DayDetector = (sensor: SensorTraffic) => (timestampsMs: Float64Array, bytes: Float64Array) => Uint8Array;

const autoencoderDays: DayDetector = (sensor) => {
  const { model } = trainAutoencoder(...sensorMinutes(sensor, 0, TRAINING_DAYS * MINUTES_PER_DAY));
  return (timestampsMs, bytes) => scoreWithAutoencoder(model, timestampsMs, bytes).isAnomaly;
};
const shallowDays: DayDetector = () => (timestampsMs, bytes) => detectShallow(timestampsMs, bytes).isAnomaly;

/** Every sensor's days after the training weeks, each scored on its own, compared with the labels. */
function detectionQuality(detector: DayDetector): () => IncidentDetection {
  const sensors = generateTraffic(TRAFFIC_SAMPLE);
  return () => {
    const detections: IncidentDetection[] = [];
    for (const sensor of sensors) {
      const detectDay = detector(sensor);
      for (let day = TRAINING_DAYS; day < TRAFFIC_SAMPLE.days; day++) {
        const from = day * MINUTES_PER_DAY;
        detections.push(incidentDetection(sensor, detectDay(...sensorMinutes(sensor, from, from + MINUTES_PER_DAY)), from));
      }
    }
    return sumIncidentDetections(detections);
  };
}

function qualityReport(result: unknown): Record<string, unknown> {
  const { byKind, normalMinutes, flaggedNormalMinutes, alerts, alertsOnIncidents } = result as IncidentDetection;
  const ratio = (part: number, whole: number) => (whole === 0 ? null : Number((part / whole).toFixed(3)));
  const fields: Record<string, unknown> = {};
  let incidents = 0;
  let found = 0;
  let flaggedIncidentMinutes = 0;
  for (const kind of TRAFFIC_INCIDENT_KINDS) {
    const counts = byKind[kind];
    fields[`${kind}_incidents`] = counts.incidents;
    fields[`${kind}_recall`] = ratio(counts.found, counts.incidents);
    fields[`${kind}_minute_recall`] = ratio(counts.flaggedMinutes, counts.minutes);
    incidents += counts.incidents;
    found += counts.found;
    flaggedIncidentMinutes += counts.flaggedMinutes;
  }
  return {
    ...fields,
    incident_recall: ratio(found, incidents),
    minute_precision: ratio(flaggedIncidentMinutes, flaggedIncidentMinutes + flaggedNormalMinutes),
    alert_precision: ratio(alertsOnIncidents, alerts),
    normal_flagged_pct: Number(((100 * flaggedNormalMinutes) / normalMinutes).toFixed(3)),
  };
}

const TEST_MINUTES = TRAFFIC_SAMPLE.sensors * (TRAFFIC_SAMPLE.days - TRAINING_DAYS) * MINUTES_PER_DAY;

export const cases: readonly BenchCase[] = [
  { rows: MINUTES_PER_DAY, label: 'autoencoder', prepare: scoreOneDay, report: latencyReport },
  { rows: MINUTES_PER_DAY, label: 'shallow', prepare: shallowOneDay, report: latencyReport },
  { rows: TRAFFIC_SAMPLE.sensors * TRAFFIC_SAMPLE.days * MINUTES_PER_DAY, label: 'quality=autoencoder', prepare: () => detectionQuality(autoencoderDays), report: qualityReport },
  { rows: TEST_MINUTES, label: 'quality=shallow', prepare: () => detectionQuality(shallowDays), report: qualityReport },
];
