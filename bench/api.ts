/**
 * The HTTP API under load: autocannon on loopback against `detour serve` started as its own
 * process tree (API on two processes sharing the port, PostgreSQL), after a warm-up.
 *
 * - `outliers-shallow`: POST /api/v1/outliers, a 1,440-point day (rb-aioutliers' form), no model.
 * - `outliers-<detector>`: the same naming a registered model, trained per sensor by a training run:
 *   `autoencoder` when it is a trainable detector, else `iforest` (the same path: model cache, inline scoring).
 * - `detect`: POST /v1/detect, shallow on a 1,440-point series.
 * - `anomalies-page`: GET /v1/anomalies, pages of 1,000 rows of a 100,000-row results table.
 * - `...-2-connections`: the two outliers loads from 2 connections instead of 4, one request in
 *   flight per core: how rb-aioutliers was measured (7 requests/s at 241 ms p50 is 1.7 in flight).
 *
 * `rows` is the requests answered, `seconds` the load's duration; the line adds latency p50/p99
 * (ms), requests/s, non-2xx answers and the server's resident memory (all its processes) after the load.
 */
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { parseConfigText } from '../src/config/index.js';
import { addDays, dateRange } from '../src/dates.js';
import { TRAINABLE_DETECTORS } from '../src/detectors/index.js';
import { FsLake } from '../src/lake/index.js';
import { startTrainingRun, trainingParamsOf } from '../src/pipeline/index.js';
import { openStore, type AnomalyRow } from '../src/store/index.js';
import { httpLoadCase, type Load, type LoadSeed } from './http-load.js';
import type { BenchCase } from './main.js';
import { writeSensorSilver } from './sensor-lake.js';

const SERIES_POINTS = 1_440;
const PAGE_ROWS = 1_000;
const TABLE = { dates: 20, rowsPerDate: 5_000, from: '2024-01-01' };
/** Ten days a minute at a time: the autoencoder wants at least a week of training rows after the validation share. */
const TRAINING = { from: '2024-02-01', days: 10 };
/** The detector a sensor's registered model is trained with. */
const MODEL_DETECTOR = TRAINABLE_DETECTORS.includes('autoencoder') ? 'autoencoder' : 'iforest';

const configYaml = (lake: string) => `
lake: ${lake}
api: { rateLimit: { max: 100000000 } }
datasets:
  sensors:
    columns: { sensor: { type: string }, ts: { type: timestamp }, speed: { type: number }, flow: { type: number } }
pipelines:
  sensors:
    dataset: sensors
    detect:
      - { detector: dbscan, table: sensors, id: sensor, features: [speed] }
    train:
      - { model: sensor_model, detector: ${MODEL_DETECTOR}, table: sensors, entity: sensor, time: ts, value: speed, history: ${TRAINING.days}, minRows: 1000, promote: auto }
`;

/** A day of one reading a minute, as rb-aioutliers' Druid timeseries rows. */
function druidRows(): { timestamp: string; result: { speed: number } }[] {
  const start = Date.parse(`${addDays(TRAINING.from, TRAINING.days)}T00:00:00Z`);
  return Array.from({ length: SERIES_POINTS }, (_, minute) => ({ timestamp: new Date(start + minute * 60_000).toISOString(), result: { speed: 60 - 25 * Math.sin((Math.PI * minute) / 720) + ((minute * 7919) % 1000) / 100 + (minute === 700 ? 40 : 0) } }));
}

const form = { 'content-type': 'application/x-www-form-urlencoded' };
const outliersLoad = (model?: string): Load => ({
  method: 'POST',
  path: '/api/v1/outliers',
  headers: form,
  body: new URLSearchParams({ data: Buffer.from(JSON.stringify(druidRows())).toString('base64'), ...(model === undefined ? {} : { model: Buffer.from(model).toString('base64') }) }).toString(),
});

/** Trains `sensor_model/S01` on a week of one reading a minute, through a training run. */
async function trainSensorModel(root: string, databaseUrl: string): Promise<string> {
  const lake = new FsLake(path.join(root, 'lake'));
  await writeSensorSilver(lake, { sensors: 1, from: TRAINING.from, to: addDays(TRAINING.from, TRAINING.days - 1), stepMinutes: 1 });
  const config = { ...parseConfigText(configYaml(path.join(root, 'lake')), 'detour.yaml'), databaseUrl };
  const app = await openApp({ config, lake, baseDir: root });
  try {
    const { summary } = await startTrainingRun(await app.services(), 'sensors', trainingParamsOf(config, 'sensors'), addDays(TRAINING.from, TRAINING.days - 1));
    if (summary.models[0].trained.length !== 1) throw new Error(`no model trained: ${JSON.stringify(summary.models[0].skipped)}`);
  } finally {
    await app.close();
  }
  return 'sensor_model/S01';
}

/** Fills the rides results table with `TABLE.dates` dates of `TABLE.rowsPerDate` anomalies. */
async function fillAnomalies(root: string, databaseUrl: string): Promise<void> {
  const store = await openStore({ databaseUrl, stateDir: root });
  try {
    for (const date of dateRange(TABLE.from, addDays(TABLE.from, TABLE.dates - 1))) {
      const rows = Array.from({ length: TABLE.rowsPerDate }, (_, index): AnomalyRow => ({
        id: `ride-${String(index).padStart(6, '0')}`,
        detector: 'dbscan',
        entity: `taxi-${index % 500}`,
        value: 40 + (index % 50),
        expected: 20,
        lower: 10,
        upper: 30,
        score: (index % 100) / 100,
        reason: `ride time ${40 + (index % 50)} min is 3.1σ above rides of similar distance (expected 10–30 min)`,
        attributes: { ride_dist_km: 3 + (index % 10), ride_time_min: 40 + (index % 50), label: -1 },
      }));
      await store.replaceAnomalies('ride_anomalies', 'bench', [{ logicalDate: date, rows }]);
    }
  } finally {
    await store.close();
  }
}

const loadCase = (label: string, rows: number, seed: LoadSeed): BenchCase => httpLoadCase(label, rows, configYaml, seed);

export const cases: readonly BenchCase[] = [
  loadCase('outliers-shallow', SERIES_POINTS, async () => outliersLoad()),
  loadCase(`outliers-${MODEL_DETECTOR}`, SERIES_POINTS, async (root, databaseUrl) => outliersLoad(await trainSensorModel(root, databaseUrl))),
  loadCase('detect', SERIES_POINTS, async () => ({
    method: 'POST',
    path: '/v1/detect',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ detector: 'shallow', series: druidRows().map((row) => ({ timestamp: row.timestamp, value: row.result.speed })) }),
  })),
  loadCase('anomalies-page', PAGE_ROWS, async (root, databaseUrl) => {
    await fillAnomalies(root, databaseUrl);
    return { method: 'GET', path: `/v1/anomalies?pipeline=rides&from=${addDays(TABLE.from, TABLE.dates / 2)}&limit=${PAGE_ROWS}` };
  }),
  loadCase('outliers-shallow-2-connections', SERIES_POINTS, async () => ({ ...outliersLoad(), connections: 2 })),
  loadCase(`outliers-${MODEL_DETECTOR}-2-connections`, SERIES_POINTS, async (root, databaseUrl) => ({ ...outliersLoad(await trainSensorModel(root, databaseUrl)), connections: 2 })),
];
