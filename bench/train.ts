/**
 * Training rb-aioutliers' per-sensor autoencoder on the traffic sample (35 days per minute, 50,400
 * points a sensor) with the default options: one sensor, then all 20 sensors one after another (the
 * registry trains them so, or spread over workers). `cpu_seconds` is the process's CPU time over the
 * same work, which a busy machine inflates less than the wall time.
 */
import { trainAutoencoder } from '../src/detectors/index.js';
import { generateTraffic, type TrafficSampleOptions } from '../src/sample/index.js';
import type { BenchCase } from './main.js';

/** The sample of the train and score benches: 20 sensors, 35 days per minute. */
export const TRAFFIC_SAMPLE: TrafficSampleOptions = { sensors: 20, days: 35, from: '2024-03-04', seed: 7 };

interface TrainingRun {
  cpuSeconds: number;
  sensors: number;
  lastEpochLoss: number;
}

/** Trains the first `sensorCount` sensors of the sample, one after another. */
function trainSensors(sensorCount: number) {
  const sensors = generateTraffic({ ...TRAFFIC_SAMPLE, sensors: sensorCount });
  return (): TrainingRun => {
    const cpuBefore = process.cpuUsage();
    let lastEpochLoss = 0;
    for (const sensor of sensors) {
      const { epochLosses } = trainAutoencoder(sensor.timestampsMs, sensor.bytes);
      lastEpochLoss = epochLosses[epochLosses.length - 1];
    }
    const cpu = process.cpuUsage(cpuBefore);
    return { cpuSeconds: (cpu.user + cpu.system) / 1e6, sensors: sensors.length, lastEpochLoss };
  };
}

function report(result: unknown): Record<string, unknown> {
  const { cpuSeconds, sensors, lastEpochLoss } = result as TrainingRun;
  return { cpu_seconds: Number(cpuSeconds.toFixed(3)), cpu_seconds_per_sensor: Number((cpuSeconds / sensors).toFixed(3)), last_epoch_loss: lastEpochLoss };
}

export const cases: readonly BenchCase[] = [
  { rows: 50_400, label: 'sensors=1', prepare: () => trainSensors(1), report },
  { rows: 20 * 50_400, label: 'sensors=20', prepare: () => trainSensors(20), report },
];
