/**
 * Scoring with the traffic models, and how well they find the sample's incidents.
 *
 * - `autoencoder`: one day (1,440 points) scored with a trained model read back from JSON, as a
 *   run scores with a model from the registry; `seconds` covers all calls, `median_us` is one call.
 * - `shallow`: rb-aioutliers' shallow model on one day, likewise.
 * - `quality=autoencoder`: every sensor of the 20 x 35-day sample trained on its first 28 days (default
 *   options) and its last 7 days scored day by day; `quality=shallow`: the shallow model on those 7
 *   days. Reported per incident kind: incidents, recall (an incident is found when any of its minutes
 *   is flagged) and minute recall; then over all kinds: incident recall, minute precision, alert
 *   precision (runs of flagged minutes that touch an incident; a false alarm has no kind) and the
 *   share of normal minutes flagged.
 */
import { autoencoderFromJson, autoencoderToJson, detectShallow, scoreWithAutoencoder, trainAutoencoder } from '../src/detectors/index.js';
import {
  generateSensorTraffic,
  generateTraffic,
  incidentDetection,
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

/** Times `calls` calls of `score` one by one; returns each call's microseconds. */
function timeCalls(calls: number, score: () => unknown): () => Float64Array {
  return () => {
    const micros = new Float64Array(calls);
    for (let call = 0; call < calls; call++) {
      const started = performance.now();
      score();
      micros[call] = (performance.now() - started) * 1000;
    }
    return micros;
  };
}

function latencyReport(result: unknown): Record<string, unknown> {
  const sorted = (result as Float64Array).slice().sort();
  const at = (quantile: number) => Math.round(sorted[Math.floor(quantile * (sorted.length - 1))]);
  return { calls: sorted.length, median_us: at(0.5), p90_us: at(0.9) };
}

function scoreOneDay(): () => Float64Array {
  const sensor = generateSensorTraffic(0, TRAFFIC_SAMPLE);
  const { model } = trainAutoencoder(...sensorMinutes(sensor, 0, TRAINING_DAYS * MINUTES_PER_DAY));
  const loaded = autoencoderFromJson(JSON.parse(JSON.stringify(autoencoderToJson(model))));
  const [timestampsMs, bytes] = sensorMinutes(sensor, TRAINING_DAYS * MINUTES_PER_DAY, (TRAINING_DAYS + 1) * MINUTES_PER_DAY);
  return timeCalls(2_000, () => scoreWithAutoencoder(loaded, timestampsMs, bytes));
}

function shallowOneDay(): () => Float64Array {
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
