/**
 * Detection quality on the labelled samples, and what it costs:
 *
 * - `rides`: one day of 100k sample rides through the built-in rides pipeline; precision and
 *   recall of the published rows per injected kind (the summary's `evaluation`).
 * - `traffic=stream`: the 20 × 35-day traffic sample through a pipeline whose detect step is the
 *   streaming detector, a run per day (each continuing from the day before's checkpoints), as a
 *   daily schedule runs it; per incident kind, incidents and the share found (an alert on one of
 *   its minutes), then the share of alerts on an incident (precision; a false alarm has no kind).
 * - `nab=<detector>`: `detour eval`'s NAB score (standard profile), window precision, recall and
 *   F1 of each series detector on the traffic sample written as a NAB corpus; `detector_seconds`
 *   is the detector's own time. ARIMA's order search is too slow for 50k-point series, so it is
 *   scored on the first 4 sensors' first 7 days (its `sample` field says so).
 * - `last-week=autoencoder`, `last-week=stream`: the autoencoder needs training, so it is compared
 *   with the streaming detector on each of the first 4 sensors' last 7 days, after the first 28
 *   (the autoencoder trained on them, the streaming detector run through them), NAB-scored as one
 *   file per sensor.
 * - `stream-score`: the streaming detector's kernel on 1M points (20 sensors × 50,000 minutes), with
 *   the CPU seconds it took (what a busy machine inflates less than the wall time).
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { DetourConfigSchema } from '../src/config/index.js';
import { addDays, dateRange } from '../src/dates.js';
import { nabFileScore, nabTotal, NAB_PROFILES, newStreamState, scoreStream, scoreWithAutoencoder, trainAutoencoder, type NabFileScore } from '../src/detectors/index.js';
import { FsLake } from '../src/lake/index.js';
import { evaluateDetector, runParamsOf, startRun, sumLabelledIncidents, type Evaluation, type RunSummary } from '../src/pipeline/index.js';
import { generateTraffic, nabLabelledSensor, writeNabTraffic, writeSampleRides, writeSampleTraffic, type TrafficSampleOptions } from '../src/sample/index.js';
import { openStore } from '../src/store/index.js';
import type { BenchCase } from './main.js';
import { TRAFFIC_SAMPLE } from './train.js';

const ratio = (part: number, whole: number) => (whole === 0 ? null : Number((part / whole).toFixed(3)));

/** A pipeline run's services over a fresh folder lake and embedded store. */
async function freshApp(prefix: string, pipelines: Record<string, unknown> = {}) {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  const lake = new FsLake(path.join(root, 'lake'));
  const store = await openStore({ stateDir: path.join(root, 'state') });
  const config = DetourConfigSchema.parse({ pipelines });
  const app = await openApp({ config, lake, store });
  return { lake, config, services: await app.services({ concurrency: 2 }), close: async () => (await app.close(), await store.close()) };
}

async function ridesDay() {
  const day = '2024-03-05';
  const { lake, config, services, close } = await freshApp('detour-bench-quality-rides-');
  await writeSampleRides(lake, { from: day, to: day, ridesPerDay: 100_000, seed: 42, format: 'parquet' });
  return async () => {
    const result = await startRun(services, 'rides', runParamsOf(config, 'rides'), [day]);
    await close();
    return result.summaries[0];
  };
}

function ridesReport(value: unknown): Record<string, unknown> {
  const evaluation = (value as RunSummary).evaluation;
  if (evaluation === undefined) return { evaluation: null };
  const fields: Record<string, unknown> = { recall: evaluation.recall, precision: evaluation.precision ?? null, false_alarms: evaluation.false_alarms };
  for (const [kind, counts] of Object.entries(evaluation.by_kind)) Object.assign(fields, { [`${kind}_rides`]: counts.total, [`${kind}_recall`]: counts.recall, [`${kind}_precision`]: counts.precision ?? null });
  return fields;
}

const STREAM_STEP = { detector: 'stream', table: 'traffic', entity: 'sensor_id', time: 'ts', value: 'bytes', partitions: 2, evaluate: { flag: 'is_injected_anomaly', kind: 'injected_kind' } };

async function trafficStream() {
  const { lake, config, services, close } = await freshApp('detour-bench-quality-traffic-', { traffic_stream: { dataset: 'traffic', detect: [STREAM_STEP] } });
  await writeSampleTraffic(lake, TRAFFIC_SAMPLE);
  const dates = dateRange(TRAFFIC_SAMPLE.from, addDays(TRAFFIC_SAMPLE.from, TRAFFIC_SAMPLE.days - 1));
  return async () => {
    const summaries: RunSummary[] = [];
    for (const date of dates) summaries.push(...(await startRun(services, 'traffic_stream', runParamsOf(config, 'traffic_stream'), [date])).summaries);
    await close();
    return summaries;
  };
}

function trafficReport(value: unknown): Record<string, unknown> {
  const total = sumLabelledIncidents((value as RunSummary[]).flatMap((summary) => Object.values(summary.labelled_incidents ?? {})));
  const fields: Record<string, unknown> = {};
  let incidents = 0;
  let found = 0;
  let flaggedIncidentRows = 0;
  for (const [kind, counts] of Object.entries(total.by_kind).sort(([a], [b]) => (a < b ? -1 : 1))) {
    Object.assign(fields, { [`${kind}_incidents`]: counts.incidents, [`${kind}_recall`]: ratio(counts.found, counts.incidents) });
    incidents += counts.incidents;
    found += counts.found;
    flaggedIncidentRows += counts.flagged_rows;
  }
  return { ...fields, incident_recall: ratio(found, incidents), alert_precision: ratio(flaggedIncidentRows, flaggedIncidentRows + total.flagged_normal_rows), false_alarms: total.flagged_normal_rows };
}

async function nabOf(detector: string, sample: TrafficSampleOptions) {
  const folder = await mkdtemp(path.join(os.tmpdir(), `detour-bench-quality-nab-${detector}-`));
  await writeNabTraffic(folder, sample);
  return () => evaluateDetector({ detector, data: folder, labels: path.join(folder, 'labels.json'), profile: 'standard' });
}

function nabReport(sample: TrafficSampleOptions) {
  return (value: unknown): Record<string, unknown> => {
    const { total, detectorSeconds } = value as Evaluation;
    const round = (figure: number) => (Number.isNaN(figure) ? null : Number(figure.toFixed(3)));
    return {
      nab_standard: Number(total.normalised.toFixed(2)),
      windows: total.windows,
      detected_windows: total.detectedWindows,
      detections: total.detections,
      precision: round(total.precision),
      recall: round(total.recall),
      f1: round(total.f1),
      ...(Number.isNaN(detectorSeconds) ? {} : { detector_seconds: Number(detectorSeconds.toFixed(3)) }),
      sample: `${sample.sensors} sensors × ${sample.days} days`,
    };
  };
}

/** 1M points: the first 50,000 minutes of each of the sample's 20 sensors, each from a fresh state. */
function streamScore() {
  const sensors = generateTraffic(TRAFFIC_SAMPLE).map((sensor) => ({ timestampsMs: sensor.timestampsMs.slice(0, 50_000), bytes: sensor.bytes.slice(0, 50_000) }));
  return () => {
    const cpuBefore = process.cpuUsage();
    let alerts = 0;
    for (const { timestampsMs, bytes } of sensors) alerts += scoreStream(newStreamState(), timestampsMs, bytes).isAnomaly.reduce((sum, flag) => sum + flag, 0);
    const cpu = process.cpuUsage(cpuBefore);
    return { alerts, cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)), load_average: Number(os.loadavg()[0].toFixed(1)) };
  };
}

const TRAINING_MINUTES = 28 * 1440;
const LAST_WEEK_SAMPLE: TrafficSampleOptions = { ...TRAFFIC_SAMPLE, sensors: 4 };

/** Flags of one sensor's whole series, by a detector fitted or run on its first 28 days. */
type SensorFlags = (timestampsMs: Float64Array, bytes: Float64Array) => Uint8Array;

const autoencoderFlags: SensorFlags = (timestampsMs, bytes) => {
  const { model } = trainAutoencoder(timestampsMs.subarray(0, TRAINING_MINUTES), bytes.subarray(0, TRAINING_MINUTES));
  const flags = new Uint8Array(bytes.length);
  flags.set(scoreWithAutoencoder(model, timestampsMs.subarray(TRAINING_MINUTES), bytes.subarray(TRAINING_MINUTES)).isAnomaly, TRAINING_MINUTES);
  return flags;
};
const streamFlags: SensorFlags = (timestampsMs, bytes) => scoreStream(newStreamState(), timestampsMs, bytes).isAnomaly;

/** NAB's score of each sensor's observed minutes after its first 28 days, the windows cut to them. */
function lastWeekNab(flagsOf: SensorFlags) {
  const sensors = generateTraffic(LAST_WEEK_SAMPLE).map(nabLabelledSensor);
  return () => {
    const scores: NabFileScore[] = [];
    for (const { timestampsMs, bytes, windows } of sensors) {
      const firstRow = timestampsMs.findIndex((time) => time >= timestampsMs[0] + TRAINING_MINUTES * 60_000);
      const flags = flagsOf(timestampsMs, bytes).subarray(firstRow);
      const cut = windows.filter((window) => window.last >= firstRow).map((window) => ({ first: Math.max(0, window.first - firstRow), last: window.last - firstRow }));
      scores.push(nabFileScore(flags, cut, NAB_PROFILES.standard));
    }
    return { total: nabTotal(scores), detectorSeconds: Number.NaN };
  };
}

const ARIMA_SAMPLE: TrafficSampleOptions = { ...TRAFFIC_SAMPLE, sensors: 4, days: 7 };
const SAMPLE_MINUTES = TRAFFIC_SAMPLE.sensors * TRAFFIC_SAMPLE.days * 1440;

export const cases: readonly BenchCase[] = [
  { rows: 100_000, label: 'rides', prepare: ridesDay, report: ridesReport },
  { rows: SAMPLE_MINUTES, label: 'traffic=stream', prepare: trafficStream, report: trafficReport },
  ...['stream', 'shallow', 'iforest'].map((detector) => ({ rows: SAMPLE_MINUTES, label: `nab=${detector}`, prepare: () => nabOf(detector, TRAFFIC_SAMPLE), report: nabReport(TRAFFIC_SAMPLE) })),
  { rows: ARIMA_SAMPLE.sensors * ARIMA_SAMPLE.days * 1440, label: 'nab=arima', prepare: () => nabOf('arima', ARIMA_SAMPLE), report: nabReport(ARIMA_SAMPLE) },
  ...([['autoencoder', autoencoderFlags], ['stream', streamFlags]] as const).map(([name, flagsOf]) => ({
    rows: LAST_WEEK_SAMPLE.sensors * 7 * 1440,
    label: `last-week=${name}`,
    prepare: () => lastWeekNab(flagsOf),
    report: nabReport({ ...LAST_WEEK_SAMPLE, days: 7 }),
  })),
  { rows: 1_000_000, label: 'stream-score', prepare: streamScore, report: (result) => result as Record<string, unknown> },
];
