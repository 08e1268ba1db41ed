import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { NotFoundError } from '../../src/errors.js';
import type { FsLake } from '../../src/lake/index.js';
import {
  ingestFile,
  ingestPartitionedFile,
  loadSupervisedModel,
  pipelineLayout,
  predictProbabilities,
  runParamsOf,
  startRun,
  startTrainingRun,
  trainingParamsOf,
  type RunServices,
} from '../../src/pipeline/index.js';
import { readCityWeather, weatherCsvPath, writeSampleFleetFiles } from '../../src/sample/index.js';
import type { Store } from '../../src/store/index.js';
import { openTempServices } from '../helpers/pipeline.js';

const DAYS = dateRange('2015-01-01', '2015-02-01');
const TRAINED_ON = '2015-01-28';
const PREDICTED = '2015-01-30';
/** Rides land for this date, but the weather of it is never cleaned. */
const NO_WEATHER = '2015-02-02';
const RIDES_PER_DAY = 400;

/** The built-in pipelines, and one reading the week of weather up to each ride day. */
const YAML = `
pipelines:
  rain_week:
    dataset: fleet_rides
    join: [{ dataset: weather, window: { before: 6 } }]
    aggregate:
      - name: rain_week
        sql: SELECT count(DISTINCT date) AS days, min(date) AS first_day, sum(precipitation) AS rain_mm FROM weather WHERE city = 'New York'
`;

describe('fleet: landed rides joined with the real weather, a weekly model, daily probabilities', () => {
  let config: DetourConfig;
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  let engine: Engine;
  const run = (pipeline: string, dates: string[]) => startRun(services, pipeline, runParamsOf(config, pipeline), dates);
  const goldRows = async <T extends Record<string, unknown>>(pipeline: string, key: (layout: ReturnType<typeof pipelineLayout>) => string, date: string, sql: string) => {
    const [file] = await engine.stage(lake, [key(pipelineLayout(pipeline, config.pipelines[pipeline], date))]);
    return engine.rows<T>(sql, [file]);
  };

  beforeAll(async () => {
    config = parseConfigText(YAML, 'detour.yaml');
    ({ lake, store, services } = await openTempServices('detour-fleet-', { concurrency: 2 }));
    engine = await openEngine();
    await ingestPartitionedFile(lake, { dataset: 'weather', file: weatherCsvPath(), partitionBy: 'date' });
    await run('weather', dateRange('2014-12-20', DAYS.at(-1) as string));
    const folder = await mkdtemp(path.join(os.tmpdir(), 'detour-fleet-files-'));
    await writeSampleFleetFiles(engine, folder, { from: DAYS[0], to: NO_WEATHER, ridesPerDay: RIDES_PER_DAY, seed: 7 }, async (logicalDate, file) => {
      await ingestFile(lake, { dataset: 'fleet_rides', file, logicalDate });
    });
  }, 300_000);
  afterAll(async () => {
    await engine?.close();
    await services?.queue.close();
    await store?.close();
  });

  it('lands the weather of both cities, one partition per day, and cleans it', async () => {
    expect((await lake.list('bronze/weather/')).filter((object) => object.key.endsWith('weather.csv'))).toHaveLength(1461);
    const rows = await goldRows<{ city: string; temp_max: number }>('weather', (layout) => layout.silver, '2015-01-05', 'SELECT city, temp_max FROM read_parquet($1) ORDER BY city');
    expect(rows).toEqual([
      { city: 'New York', temp_max: 10.6 },
      { city: 'Seattle', temp_max: 12.2 },
    ]);
  });

  it('joins every ride with its day’s New York weather in the feature step, predicting nothing before a model exists', async () => {
    const result = await run('fleet', DAYS);
    expect(result.summaries.map((summary) => summary.rows_valid)).toEqual(DAYS.map(() => RIDES_PER_DAY));
    expect(result.summaries[0].predictions).toEqual({ skipped: 'no production version of model fleet_service when the run started' });
    for (const date of ['2015-01-05', '2015-01-24']) {
      const [weather] = (await readCityWeather(engine, 'New York', date, date)).values();
      const features = await goldRows<{ rides: number; temperature: number; precipitation: number }>(
        'fleet',
        (layout) => layout.aggregate('ride_features'),
        date,
        'SELECT count(*) AS rides, min(temperature) AS temperature, max(precipitation) AS precipitation FROM read_parquet($1) GROUP BY temperature, precipitation',
      );
      expect(features).toEqual([{ rides: RIDES_PER_DAY, temperature: weather.tempMax, precipitation: weather.precipitation }]);
    }
  }, 300_000);

  it('fails the run naming the dataset and the date when a joined partition was never cleaned, writing no features', async () => {
    const failed = run('fleet', [NO_WEATHER]);
    await expect(failed).rejects.toBeInstanceOf(NotFoundError);
    await expect(failed).rejects.toThrow(`join weather: weather has no cleaned partition for ${NO_WEATHER} (silver/weather/date=${NO_WEATHER}/data.parquet is missing in ${lake.url}); land and clean weather for ${NO_WEATHER} first`);
    expect(await lake.exists(pipelineLayout('fleet', config.pipelines.fleet, NO_WEATHER).aggregate('ride_features'))).toBe(false);
  }, 120_000);

  it('reads a window of joined days: the week up to each date', async () => {
    const [summary] = (await run('rain_week', ['2015-01-10'])).summaries;
    expect(summary.aggregates).toHaveLength(1);
    const [week] = await goldRows<{ days: number; first_day: string; rain_mm: number }>('rain_week', (layout) => layout.aggregate('rain_week'), '2015-01-10', "SELECT days, strftime(first_day, '%Y-%m-%d') AS first_day, rain_mm FROM read_parquet($1)");
    const weather = await readCityWeather(engine, 'New York', '2015-01-04', '2015-01-10');
    expect(week).toMatchObject({ days: 7, first_day: '2015-01-04' });
    expect(week.rain_mm).toBeCloseTo([...weather.values()].reduce((sum, day) => sum + day.precipitation, 0), 9);
  }, 120_000);

  it('trains the weekly model on four weeks of joined rides and predicts a landed day: rain, cold and mileage raise the probability', async () => {
    const trained = await startTrainingRun(services, 'fleet', trainingParamsOf(config, 'fleet'), TRAINED_ON);
    const [model] = trained.summary.models[0].trained;
    expect(model).toMatchObject({ name: 'fleet_service', version: 1, stage: 'production' });
    expect(trained.summary.models[0].window).toEqual({ from: '2015-01-01', to: TRAINED_ON });
    expect(model.metrics.validation_auc).toBeGreaterThan(0.6);

    const [summary] = (await run('fleet', [PREDICTED])).summaries;
    expect(summary.predictions).toMatchObject({ model: { name: 'fleet_service', version: 1 }, rows: RIDES_PER_DAY, unscored: [] });
    expect(await store.listPredictions('fleet_predictions', PREDICTED)).toHaveLength(RIDES_PER_DAY);
    const loaded = await loadSupervisedModel(lake, await store.getModelVersion('fleet_service', 1));
    const [dryShort, dryLong, wetShort, coldShort] = predictProbabilities(loaded, [
      { temperature: 20, precipitation: 0, mileage: 2 },
      { temperature: 20, precipitation: 0, mileage: 20 },
      { temperature: 20, precipitation: 25, mileage: 2 },
      { temperature: -5, precipitation: 0, mileage: 2 },
    ]);
    expect(dryLong).toBeGreaterThan(dryShort);
    expect(wetShort).toBeGreaterThan(dryShort);
    expect(coldShort).toBeGreaterThan(dryShort);
  }, 300_000);

  it('quarantines a ride whose service_requested is neither 0 nor 1, with its reason', async () => {
    const date = '2015-02-01';
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'detour-fleet-label-')), 'late-rides.csv');
    await writeFile(file, 'ride_id,vehicle_id,city,start_time,end_time,distance_miles,duration_min,service_requested\nL1,V1,New York,2015-02-01 10:00:00,2015-02-01 10:20:00,3.5,20,2\nL2,V1,New York,2015-02-01 11:00:00,2015-02-01 11:20:00,3.5,20,1\n');
    await ingestFile(lake, { dataset: 'fleet_rides', file, logicalDate: date });
    const [summary] = (await run('fleet', [date])).summaries;
    expect(summary).toMatchObject({ rows_valid: RIDES_PER_DAY + 1, rows_quarantined: 1, quarantine_reasons: { 'service_requested not 0 or 1': 1 } });
  }, 120_000);
});
