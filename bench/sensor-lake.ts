/**
 * A lake of road sensors for training benches and tests: `silver/sensors/date=D/data.parquet`
 * with a reading every `stepMinutes` per sensor (speed and flow over a daily cycle, with
 * deterministic noise), as the clean step would have written it, and a pipeline that trains an
 * Isolation Forest per sensor from it.
 */
import { dateRange } from '../src/dates.js';
import { openEngine } from '../src/engine/index.js';
import type { Lake } from '../src/lake/index.js';

export interface SensorLakeOptions {
  sensors: number;
  from: string;
  to: string;
  stepMinutes: number;
}

/** Sensor ids as the lake holds them: `S01`, `S02`, ... */
export function sensorIds(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `S${String(index + 1).padStart(2, '0')}`);
}

/** Writes the silver partitions of every date from `from` to `to`. */
export async function writeSensorSilver(lake: Lake, options: SensorLakeOptions): Promise<void> {
  const engine = await openEngine();
  try {
    for (const [day, date] of dateRange(options.from, options.to).entries()) {
      // hash() gives noise that depends only on (sensor, minute, day): the same lake every time.
      await engine.exportQuery(
        `SELECT 'S' || lpad(CAST(s + 1 AS VARCHAR), 2, '0') AS sensor,
           CAST($1 AS TIMESTAMP) + to_minutes(CAST(m AS BIGINT)) AS ts,
           60 + 5 * s / $2 - 25 * sin(pi() * m / 720) + (hash(s, m, $3) % 1000) / 100.0 AS speed,
           800 + 400 * sin(pi() * m / 720) + (hash(m, s, $3) % 1000) / 10.0 AS flow
         FROM range(CAST($2 AS BIGINT)) AS sensors(s), range(0, 1440, CAST($4 AS BIGINT)) AS minutes(m)
         ORDER BY sensor, ts`,
        lake,
        `silver/sensors/date=${date}/data.parquet`,
        'parquet',
        [date, options.sensors, day, options.stepMinutes],
      );
    }
  } finally {
    await engine.close();
  }
}

/** A detour.yaml training `sensor_iforest` per sensor over `history` days in `partitions` shards. */
export function sensorConfig(options: { lake: string; prefix: string; lockSeconds?: number; history: number; partitions: number; trees: number; maxSamples: number }): string {
  return `
lake: ${options.lake}
queue: { prefix: ${options.prefix}, lockSeconds: ${options.lockSeconds ?? 30} }
datasets:
  sensors:
    columns:
      sensor: { type: string }
      ts: { type: timestamp }
      speed: { type: number }
      flow: { type: number }
pipelines:
  sensors:
    dataset: sensors
    retry: { retries: 0 }
    detect:
      - { detector: dbscan, table: sensors, id: sensor, features: [speed] }
    train:
      - model: sensor_iforest
        detector: iforest
        table: sensors
        entity: sensor
        time: ts
        features: [speed, flow]
        history: ${options.history}
        minRows: 100
        partitions: ${options.partitions}
        params: { trees: ${options.trees}, maxSamples: ${options.maxSamples}, contamination: 0.01 }
        promote: auto
`;
}
