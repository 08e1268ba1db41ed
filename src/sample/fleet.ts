/**
 * Seeded New York rides of a fleet whose vehicles sometimes request service after a ride (the Wild
 * Rydes workshop's data): how likely depends on that day's real weather in New York and on the
 * ride's mileage, through {@link serviceLogOdds} plus noise. Generation is pure; only the weather
 * is read (from `weather.csv`, see weather.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dateRange } from '../dates.js';
import type { Engine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { SeededRandom } from '../random.js';
import { isoTimestamp, samplePickupMinute, seedForDate, speedKmhAt } from './rides.js';
import { readCityWeather, type DailyWeather } from './weather.js';

/** The city of every sample fleet ride: its weather is the day's New York row of `weather.csv`. */
export const FLEET_CITY = 'New York';

/** Column names of sample fleet ride files, in file order. */
export const FLEET_RIDE_COLUMNS = ['ride_id', 'vehicle_id', 'city', 'start_time', 'end_time', 'distance_miles', 'duration_min', 'service_requested'] as const;

/** Standard deviation of the per-ride noise added to {@link serviceLogOdds}. */
export const SERVICE_NOISE_SD = 0.5;

const KM_PER_MILE = 1.609344;
const AIRPORT_TRIP_SHARE = 0.05;
const PICKUP_OVERHEAD_MIN = 2;
/** One vehicle per this many rides of a day. */
const RIDES_PER_VEHICLE = 40;

/**
 * The log-odds that a vehicle requests service after a ride of `miles` on a day with `weather`,
 * before noise:
 *
 *   −3.6 + 0.12 · miles + 0.09 · precipitation (mm) + 0.08 · max(0, 10 − temp_max (°C))
 *
 * Long rides, rain and snow, and cold below 10 °C all wear vehicles; heat does not. A sample ride's
 * outcome is drawn with probability 1 / (1 + e^−(log-odds + ε)), ε ~ N(0, 0.5²) per ride. A 3-mile
 * ride on a dry 20 °C day: 4%; 10 miles in 20 mm of rain at 0 °C: 55%.
 */
export function serviceLogOdds(weather: Pick<DailyWeather, 'precipitation' | 'tempMax'>, miles: number): number {
  return -3.6 + 0.12 * miles + 0.09 * weather.precipitation + 0.08 * Math.max(0, 10 - weather.tempMax);
}

/**
 * One day of New York fleet rides as CSV text with a header row ({@link FLEET_RIDE_COLUMNS}):
 * pickups follow the hourly demand, distances are log-normal around 2.5 miles (5% airport trips of
 * 12–25 miles), durations follow the hour's street speed, and `service_requested` is drawn from
 * {@link serviceLogOdds} with the day's `weather` plus noise. Same arguments, same text.
 */
export function generateFleetRidesCsv(logicalDate: string, count: number, seed: number, weather: DailyWeather): string {
  const random = new SeededRandom(seedForDate(seed, logicalDate));
  const vehicles = Math.max(1, Math.round(count / RIDES_PER_VEHICLE));
  const datePart = logicalDate.replaceAll('-', '');
  const lines: string[] = [FLEET_RIDE_COLUMNS.join(',')];
  for (let ride = 0; ride < count; ride++) {
    const pickupMinute = samplePickupMinute(random);
    const vehicle = random.below(vehicles);
    const miles = random.next() < AIRPORT_TRIP_SHARE ? random.uniform(12, 25) : Math.min(60, Math.exp(Math.log(2.5) + 0.7 * random.normal()));
    const speedMph = (speedKmhAt(pickupMinute) / KM_PER_MILE) * Math.exp(0.15 * random.normal());
    const durationMin = PICKUP_OVERHEAD_MIN + (miles / speedMph) * 60;
    const logOdds = serviceLogOdds(weather, miles) + SERVICE_NOISE_SD * random.normal();
    const serviceRequested = random.next() < 1 / (1 + Math.exp(-logOdds)) ? 1 : 0;
    lines.push(
      [
        `F${datePart}-${String(ride).padStart(7, '0')}`,
        `V${String(vehicle).padStart(4, '0')}`,
        FLEET_CITY,
        isoTimestamp(logicalDate, pickupMinute),
        isoTimestamp(logicalDate, pickupMinute + durationMin),
        Math.round(miles * 100) / 100,
        Math.round(durationMin * 100) / 100,
        serviceRequested,
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

export interface SampleFleetOptions {
  from: string;
  to: string;
  ridesPerDay: number;
  seed: number;
}

/** The name of every sample fleet ride file: a day sampled again replaces its file. */
export const FLEET_RIDES_FILE = 'fleet-rides.csv';

/**
 * Writes a day of sample fleet rides per date of the range to `<folder>/<date>/fleet-rides.csv`
 * and hands each file to `onFile` (which lands it) before writing the next, so that a long range
 * never holds more than a day.
 * @throws InputError for a bad ride count, or dates outside the weather's 2012–2015.
 */
export async function writeSampleFleetFiles(engine: Engine, folder: string, options: SampleFleetOptions, onFile: (logicalDate: string, file: string) => Promise<void>): Promise<void> {
  if (!Number.isInteger(options.ridesPerDay) || options.ridesPerDay < 1) {
    throw new InputError(`--rides-per-day must be a whole number of at least 1, got ${options.ridesPerDay}`);
  }
  const dates = dateRange(options.from, options.to);
  const weather = await readCityWeather(engine, FLEET_CITY, options.from, options.to);
  for (const date of dates) {
    const file = path.join(folder, date, FLEET_RIDES_FILE);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, generateFleetRidesCsv(date, options.ridesPerDay, options.seed, weather.get(date) as DailyWeather));
    await onFile(date, file);
  }
}
