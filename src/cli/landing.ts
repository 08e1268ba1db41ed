import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { Command } from 'commander';
import { openConfiguredBus } from '../app/index.js';
import type { LandedEvent } from '../bus/index.js';
import type { DetourConfig } from '../config/index.js';
import { dateRange } from '../dates.js';
import { openEngine } from '../engine/index.js';
import type { Lake } from '../lake/index.js';
import { announceLanded, ingestFile, ingestPartitionedFile, landedEvents, type PartitionedIngestResult } from '../pipeline/index.js';
import { weatherCsvPath, WEATHER_DAYS, writeSampleFleetFiles, type SampleFleetOptions } from '../sample/index.js';
import { loadCliConfig, withCommonOptions, type CommonOptions } from './context.js';
import { Progress } from './format.js';
import { wholeNumber } from './options.js';

/** Announces landed files as `lake.landed` on the configured bus; a line saying so, or undefined without a bus. */
export async function announceOnBus(config: DetourConfig, events: readonly LandedEvent[]): Promise<string | undefined> {
  const bus = await openConfiguredBus(config);
  if (bus === undefined) return undefined;
  try {
    const { published, duplicates } = await announceLanded(bus, events);
    return `announced ${published} landed file${published === 1 ? '' : 's'} on ${bus.description}${duplicates > 0 ? ` (${duplicates} announced before)` : ''}`;
  } finally {
    await bus.close();
  }
}

/** Lands vega-datasets' weather.csv as `dataset` through the ingest path, a bronze partition per date. */
export function landSampleWeather(lake: Lake, dataset: string): Promise<PartitionedIngestResult> {
  return ingestPartitionedFile(lake, { dataset, file: weatherCsvPath(), partitionBy: 'date', replace: true });
}

/** Lands a day of sample fleet rides per date in `dataset` through the ingest path (a sampled day again replaces its file); the landed files. */
export async function landSampleFleet(lake: Lake, dataset: string, options: SampleFleetOptions, onDay?: (logicalDate: string, key: string) => void): Promise<LandedEvent[]> {
  const folder = await mkdtemp(path.join(os.tmpdir(), 'detour-fleet-sample-'));
  const engine = await openEngine();
  try {
    const events: LandedEvent[] = [];
    await writeSampleFleetFiles(engine, folder, options, async (logicalDate, file) => {
      const landed = await ingestFile(lake, { dataset, file, logicalDate, replace: true });
      events.push(...landedEvents(dataset, [{ logicalDate, ...landed }]));
      onDay?.(logicalDate, landed.key);
    });
    return events;
  } finally {
    await engine.close();
    await rm(folder, { recursive: true, force: true });
  }
}

/** `detour sample weather`: weather.csv through the ingest path, a bronze partition per date. */
export function sampleWeatherCommand(): Command {
  return withCommonOptions(new Command('weather'))
    .description(`the real daily weather of New York and Seattle, ${WEATHER_DAYS.from}..${WEATHER_DAYS.to} (npm package vega-datasets), landed as dataset weather, one bronze partition per date`)
    .action(async (options: CommonOptions) => {
      const { lake, config } = await loadCliConfig(options);
      try {
        const dataset = config.pipelines.weather?.dataset ?? 'weather';
        const result = await landSampleWeather(lake, dataset);
        const written = result.partitions.filter((partition) => partition.ingested).length;
        console.log(`landed weather.csv in ${lake.url}/bronze/${dataset}/: ${result.partitions.length} dates ${result.partitions[0].logicalDate}..${result.partitions.at(-1)?.logicalDate}, ${written} written`);
        const announced = await announceOnBus(config, landedEvents(dataset, result.partitions));
        if (announced !== undefined) console.log(announced);
      } finally {
        await lake.close();
      }
    });
}

/** `detour sample fleet`: a day of seeded New York rides per date, each landed through the ingest path. */
export function sampleFleetCommand(): Command {
  return withCommonOptions(new Command('fleet'))
    .description('New York fleet rides whose service_requested (0/1) depends on that day\'s real weather and the ride\'s mileage, plus noise (see README); one bronze partition per date of fleet_rides')
    .requiredOption('--from <YYYY-MM-DD>', `first date (weather known ${WEATHER_DAYS.from}..${WEATHER_DAYS.to})`)
    .requiredOption('--to <YYYY-MM-DD>', 'last date (inclusive)')
    .option('--rides-per-day <n>', 'rides per day', wholeNumber('--rides-per-day', 1), 2_000)
    .option('--seed <n>', 'random seed', wholeNumber('--seed', 0), 42)
    .action(async (options: CommonOptions & { from: string; to: string; ridesPerDay: number; seed: number }) => {
      const { lake, config } = await loadCliConfig(options);
      try {
        const dataset = config.pipelines.fleet?.dataset ?? 'fleet_rides';
        const progress = new Progress(dateRange(options.from, options.to).length);
        const events = await landSampleFleet(lake, dataset, options, (logicalDate, key) => progress.finishItem(logicalDate, key)).finally(() => progress.end());
        console.log(`wrote ${events.length} day(s) × ${options.ridesPerDay} rides to ${lake.url}/bronze/${dataset}/`);
        const announced = await announceOnBus(config, events);
        if (announced !== undefined) console.log(announced);
      } finally {
        await lake.close();
      }
    });
}
