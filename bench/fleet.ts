/**
 * Supervised models on synthetic rides with weather-like features (temperature °C, precipitation
 * mm, mileage): whether the vehicle requested service depends on mileage and rain, and on
 * temperature in a U shape (cold and heat both wear), plus noise.
 *
 * - `train=logistic`, `train=gbdt`: fitting on 1M rides, the most recent 20% held out, with the
 *   validation metrics a training step registers (`fitSupervised`); the timed work is all of it.
 *   `cpu_seconds` is the process's CPU time over it, which a busy machine inflates less than the wall time.
 * - `predict=logistic`, `predict=gbdt`: `predictProbabilities` on a batch of 10,000 rides given as
 *   JSON objects (checked against the features and ranges, as the API takes them), 50 batches one
 *   after another; `latency` is per batch, `cpu_ms_per_batch` the CPU time over all of them per batch.
 */
import { fitSupervised, holdOutLabelled, supervisedModel, type LabelledRows } from '../src/detectors/index.js';
import { predictProbabilities, type LoadedSupervisedModel } from '../src/pipeline/index.js';
import { SeededRandom } from '../src/random.js';
import type { BenchCase } from './main.js';

const FEATURES = ['temperature', 'precipitation', 'mileage'];
const RANGES = { temperature: { min: -60, max: 60 }, precipitation: { min: 0 }, mileage: { min: 0 } };
const BATCH_ROWS = 10_000;
const BATCHES = 50;

/** `count` rides in time order, seeded. */
function syntheticRides(count: number, seed: number): LabelledRows {
  const random = new SeededRandom(seed);
  const columns = FEATURES.map(() => new Float64Array(count));
  const [temperature, precipitation, mileage] = columns;
  const labels = new Uint8Array(count);
  for (let row = 0; row < count; row++) {
    temperature[row] = random.uniform(-15, 35);
    precipitation[row] = random.next() < 0.6 ? 0 : -Math.log(1 - random.next()) * 6;
    mileage[row] = random.uniform(0, 150);
    const logOdds = -3.2 + 0.02 * mileage[row] + 0.06 * precipitation[row] + 0.004 * (temperature[row] - 12) ** 2;
    labels[row] = random.next() < 1 / (1 + Math.exp(-logOdds)) ? 1 : 0;
  }
  return { features: FEATURES, columns, labels };
}

function training(modelName: string): BenchCase {
  return {
    rows: 1_000_000,
    label: `train=${modelName}`,
    prepare: () => {
      const model = supervisedModel(modelName);
      const { training: older, validation } = holdOutLabelled(syntheticRides(1_000_000, 7), 0.2);
      const params = model.params.parse({});
      return () => {
        const cpuBefore = process.cpuUsage();
        const fitted = fitSupervised(model, older, validation, params);
        const cpu = process.cpuUsage(cpuBefore);
        return { fitted, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
    },
    report: (result) => {
      const { fitted, cpuSeconds } = result as { fitted: ReturnType<typeof fitSupervised>; cpuSeconds: number };
      if ('skipped' in fitted) return { skipped: fitted.skipped };
      const { validation_auc: auc, validation_log_loss: logLoss } = fitted.metrics;
      return { cpu_seconds: Number(cpuSeconds.toFixed(3)), validation_auc: Number(auc.toFixed(4)), validation_log_loss: Number(logLoss.toFixed(4)) };
    },
  };
}

/** A model fitted on 200k rides, as predicting sees it once loaded from the registry. */
function loadedModel(modelName: string): LoadedSupervisedModel {
  const kind = supervisedModel(modelName);
  const artifact = kind.fit(syntheticRides(200_000, 3), kind.params.parse({}));
  const at = new Date();
  return {
    record: { name: `bench_${modelName}`, version: 1, detector: modelName, entity: null, params: {}, window: { from: '2024-01-01', to: '2024-03-31' }, inputs: [], detourVersion: 'bench', trainingRunId: 'bench', stage: 'production', metrics: null, artifact: null, createdAt: at, registeredAt: at, promotedAt: at, previousProduction: null },
    kind,
    model: kind.load(JSON.parse(JSON.stringify(artifact))),
    contract: { features: FEATURES, ranges: RANGES },
    facts: { label: 'service_requested', ranges: RANGES, calibration: [] },
    bytes: 0,
  };
}

function predicting(modelName: string): BenchCase {
  return {
    rows: BATCH_ROWS,
    label: `predict=${modelName}`,
    prepare: () => {
      const model = loadedModel(modelName);
      const rides = syntheticRides(BATCH_ROWS, 11);
      // A request body as parsed JSON: one object per ride.
      const batch = Array.from({ length: BATCH_ROWS }, (_, row) => Object.fromEntries(FEATURES.map((feature, k) => [feature, rides.columns[k][row]])));
      predictProbabilities(model, batch); // compiled before it is timed, as in a server that has served a request
      return () => {
        const milliseconds = new Float64Array(BATCHES);
        const cpuBefore = process.cpuUsage();
        for (let call = 0; call < BATCHES; call++) {
          const started = performance.now();
          predictProbabilities(model, batch);
          milliseconds[call] = performance.now() - started;
        }
        const cpu = process.cpuUsage(cpuBefore);
        return { milliseconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
      };
    },
    report: (result) => {
      const { milliseconds, cpuSeconds } = result as { milliseconds: Float64Array; cpuSeconds: number };
      const sorted = milliseconds.slice().sort();
      const at = (quantile: number) => Number(sorted[Math.floor(quantile * (sorted.length - 1))].toFixed(2));
      return { batches: sorted.length, latency: { p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1) }, cpu_ms_per_batch: Number(((cpuSeconds * 1000) / BATCHES).toFixed(2)) };
    },
  };
}

export const cases: readonly BenchCase[] = [training('logistic'), training('gbdt'), predicting('logistic'), predicting('gbdt')];
