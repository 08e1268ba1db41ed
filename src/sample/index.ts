import { writeFile } from 'node:fs/promises';
import { openEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { partitionPrefix, type Lake } from '../lake/index.js';
import { dateRange } from '../dates.js';
import { generateRidesCsv } from './rides.js';

export {
  generateRideFeatures,
  generateRidesCsv,
  seedForDate,
  SeededRandom,
  INJECTED_KINDS,
  INJECTED_ANOMALY_RATE,
  SAMPLE_RIDE_COLUMNS,
} from './rides.js';
export type { InjectedKind, RideFeatures } from './rides.js';
export { flightsParquetPath, writeSampleFlights } from './flights.js';
export { readCityWeather, weatherCsvPath, WEATHER_DAYS } from './weather.js';
export type { DailyWeather } from './weather.js';
export { FLEET_CITY, FLEET_RIDE_COLUMNS, FLEET_RIDES_FILE, generateFleetRidesCsv, SERVICE_NOISE_SD, serviceLogOdds, writeSampleFleetFiles } from './fleet.js';
export type { SampleFleetOptions } from './fleet.js';

export interface SampleRidesOptions {
  from: string;
  to: string;
  ridesPerDay: number;
  seed: number;
  format: 'csv' | 'parquet';
  /** Bronze dataset to write, `rides` by default. */
  dataset?: string;
  onDay?: (logicalDate: string, key: string) => void;
}

/**
 * Writes seeded sample rides into `bronze/<dataset>/date=D/rides.<format>` for every date of the
 * range, replacing an earlier sample of that date. Same options, same bytes.
 */
export async function writeSampleRides(lake: Lake, options: SampleRidesOptions): Promise<string[]> {
  if (!Number.isInteger(options.ridesPerDay) || options.ridesPerDay < 1) {
    throw new InputError(`--rides-per-day must be a whole number of at least 1, got ${options.ridesPerDay}`);
  }
  const dates = dateRange(options.from, options.to);
  const keys: string[] = [];
  const engine = await openEngine();
  try {
    for (const logicalDate of dates) {
      const prefix = partitionPrefix('bronze', options.dataset ?? 'rides', logicalDate);
      const key = `${prefix}rides.${options.format}`;
      const csv = generateRidesCsv(logicalDate, options.ridesPerDay, options.seed);
      if (options.format === 'csv') {
        await lake.put(key, csv);
      } else {
        const csvPath = engine.tempPath('.csv');
        await writeFile(csvPath, csv);
        await engine.exportQuery('SELECT * FROM read_csv($1, header = true)', lake, key, 'parquet', [csvPath]);
      }
      // A sample in the other format would double every ride.
      await lake.delete(`${prefix}rides.${options.format === 'csv' ? 'parquet' : 'csv'}`);
      keys.push(key);
      options.onDay?.(logicalDate, key);
    }
  } finally {
    await engine.close();
  }
  return keys;
}
export {
  generateSensorTraffic,
  generateTraffic,
  incidentDetection,
  nabLabelledSensor,
  observedMinutes,
  SAMPLE_TRAFFIC_COLUMNS,
  sumIncidentDetections,
  TRAFFIC_INCIDENT_KINDS,
  TRAFFIC_SAMPLE_DEFAULTS,
  writeNabTraffic,
  writeSampleTraffic,
} from './traffic.js';
export type { IncidentDetection, IncidentKindDetection, NabLabelledSensor, SensorTraffic, TrafficIncident, TrafficIncidentKind, TrafficSampleOptions } from './traffic.js';
