import { createRequire } from 'node:module';
import path from 'node:path';
import type { Engine } from '../engine/index.js';
import { InputError } from '../errors.js';

/**
 * The real daily weather of New York and Seattle, 2012-01-01 to 2015-12-31 (NOAA observations),
 * shipped by the npm package `vega-datasets` as `data/weather.csv`: one row per city and day with
 * `location` (`New York`, `Seattle`), `date`, `precipitation` (mm), `temp_max` and `temp_min`
 * (°C), `wind` (the package documents km/h; its values, 0.4 to 10, read like m/s) and `weather`
 * (drizzle, rain, sun, snow or fog, derived by the package from other NOAA fields).
 */
export function weatherCsvPath(): string {
  // The package exports only its JS entry; the data folder sits beside its build folder.
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  return path.join(path.dirname(entry), '..', 'data', 'weather.csv');
}

/** The days `weather.csv` covers, for each of its cities. */
export const WEATHER_DAYS = { from: '2012-01-01', to: '2015-12-31' } as const;

/** One city's weather on one day, as `weather.csv` has it. */
export interface DailyWeather {
  /** mm */
  precipitation: number;
  /** °C */
  tempMax: number;
  /** °C */
  tempMin: number;
}

/**
 * `city`'s weather for every date of [from, to], read from `weather.csv`.
 * @throws InputError when a date of the range is not in the file (it covers {@link WEATHER_DAYS}).
 */
export async function readCityWeather(engine: Engine, city: string, from: string, to: string): Promise<Map<string, DailyWeather>> {
  if (from < WEATHER_DAYS.from || to > WEATHER_DAYS.to) {
    throw new InputError(`the weather of ${city} is known from ${WEATHER_DAYS.from} to ${WEATHER_DAYS.to} (vega-datasets weather.csv), not for ${from}..${to}`);
  }
  const rows = await engine.rows<{ date: string; precipitation: number; temp_max: number; temp_min: number }>(
    `SELECT CAST(date AS VARCHAR) AS date, precipitation, temp_max, temp_min
     FROM read_csv($1, header = true, columns = {'location': 'VARCHAR', 'date': 'DATE', 'precipitation': 'DOUBLE', 'temp_max': 'DOUBLE', 'temp_min': 'DOUBLE', 'wind': 'DOUBLE', 'weather': 'VARCHAR'})
     WHERE location = $2 AND date BETWEEN CAST($3 AS DATE) AND CAST($4 AS DATE) ORDER BY date`,
    [weatherCsvPath(), city, from, to],
  );
  return new Map(rows.map((row) => [row.date, { precipitation: row.precipitation, tempMax: row.temp_max, tempMin: row.temp_min }]));
}
