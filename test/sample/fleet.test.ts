import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import { FLEET_RIDE_COLUMNS, generateFleetRidesCsv, readCityWeather, serviceLogOdds, weatherCsvPath } from '../../src/sample/index.js';

describe('sample weather and fleet rides', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine();
  });
  afterAll(async () => {
    await engine.close();
  });

  it('reads the real weather.csv: New York and Seattle, every day of 2012–2015', async () => {
    const [{ cities, days, columns }] = await engine.rows<{ cities: string[]; days: number; columns: string }>(
      `SELECT list_sort(list_distinct(list(location))) AS cities, count(DISTINCT date) AS days, (SELECT string_agg(column_name, ',') FROM (DESCRIBE SELECT * FROM read_csv($1))) AS columns FROM read_csv($1)`,
      [weatherCsvPath()],
    );
    expect({ cities, days, columns }).toEqual({ cities: ['New York', 'Seattle'], days: 1461, columns: 'location,date,precipitation,temp_max,temp_min,wind,weather' });
    expect(await readCityWeather(engine, 'New York', '2015-01-05', '2015-01-06')).toEqual(
      new Map([
        ['2015-01-05', { precipitation: 0, tempMax: 10.6, tempMin: -4.9 }],
        ['2015-01-06', { precipitation: 1.8, tempMax: -4.9, tempMin: -7.1 }],
      ]),
    );
    await expect(readCityWeather(engine, 'New York', '2015-12-30', '2016-01-02')).rejects.toThrow(new InputError('the weather of New York is known from 2012-01-01 to 2015-12-31 (vega-datasets weather.csv), not for 2015-12-30..2016-01-02'));
  });

  it('generates the same rides for the same seed, with outcomes that follow the documented function', () => {
    const dry = { precipitation: 0, tempMax: 20, tempMin: 12 };
    const wetCold = { precipitation: 20, tempMax: 0, tempMin: -5 };
    const csv = generateFleetRidesCsv('2015-01-05', 20_000, 7, dry);
    expect(generateFleetRidesCsv('2015-01-05', 20_000, 7, dry)).toBe(csv);
    const [header, first] = csv.split('\n');
    expect(header).toBe(FLEET_RIDE_COLUMNS.join(','));
    expect(first).toMatch(/^F20150105-0000000,V\d{4},New York,2015-01-05 \d\d:\d\d:\d\d,2015-01-05 \d\d:\d\d:\d\d,\d+(\.\d+)?,\d+(\.\d+)?,[01]$/);
    const rate = (text: string) => {
      const outcomes = text.trimEnd().split('\n').slice(1).map((line) => Number(line.split(',')[7]));
      return outcomes.reduce((sum, outcome) => sum + outcome, 0) / outcomes.length;
    };
    // The documented examples, and the day's weather moving the rate the way the function says.
    expect(1 / (1 + Math.exp(-serviceLogOdds(dry, 3)))).toBeCloseTo(0.038, 3);
    expect(1 / (1 + Math.exp(-serviceLogOdds(wetCold, 10)))).toBeCloseTo(0.55, 2);
    expect(rate(generateFleetRidesCsv('2015-01-05', 20_000, 7, wetCold))).toBeGreaterThan(rate(csv) + 0.15);
  });
});
