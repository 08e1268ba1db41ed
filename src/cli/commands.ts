import path from 'node:path';
import { Command, Option } from 'commander';
import { writeDefaultConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { assertIsoDate, dateRange } from '../dates.js';
import { detectDbscanFile, detectIsolationForestFile, ingestFile, ingestPartitionedFile, landedEvents, type LandedFile, type PartitionedIngestResult } from '../pipeline/index.js';
import { TRAFFIC_SAMPLE_DEFAULTS, writeNabTraffic, writeSampleFlights, writeSampleRides, writeSampleTraffic, type TrafficSampleOptions } from '../sample/index.js';
import { openEngine } from '../engine/index.js';
import { loadCliConfig, withCommonOptions, type CommonOptions } from './context.js';
import { Progress } from './format.js';
import { demoCommand, runCommand, backfillCommand, runsCommand } from './run-commands.js';
import { serveCommand, workerCommand } from './service-commands.js';
import { modelsCommand, trainCommand } from './model-commands.js';
import { monitorCommand } from './monitor-command.js';
import { announceOnBus, sampleFleetCommand, sampleWeatherCommand } from './landing.js';
import { evalCommand } from './eval-command.js';
import { envCommand } from './env-commands.js';

import { positiveNumber, wholeNumber } from './options.js';

function detectCommand(): Command {
  const detect = new Command('detect').description('run a detector on a single CSV or Parquet file');
  const fileJob = (name: string) =>
    withCommonOptions(new Command(name))
      .requiredOption('--input <file>', 'input .csv or .parquet')
      .requiredOption('--features <columns>', 'comma-separated numeric feature columns, e.g. ride_dist_km,ride_time_min', (text: string) =>
        text.split(',').map((name) => name.trim()).filter(Boolean),
      )
      .requiredOption('--output <file>', 'output .csv or .parquet');
  const contamination = (value: string): 'auto' | number => {
    if (value === 'auto') return value;
    const share = Number(value);
    if (!(share > 0 && share <= 0.5)) throw new InputError(`--contamination must be 'auto' or a number in (0, 0.5], got "${value}"`);
    return share;
  };
  detect.addCommand(
    fileJob('dbscan')
      .description('cluster rows with DBSCAN; writes every input row plus a label column (-1 = outlier)')
      .option('--eps <number>', 'neighbourhood radius (in scaled units when --scale standard)', positiveNumber('--eps'), 0.3)
      .option('--min-samples <n>', 'neighbours (the point included) that make a core point', wholeNumber('--min-samples', 1), 10)
      .addOption(new Option('--scale <scaling>', 'feature scaling').choices(['standard', 'none']).default('standard'))
      .action(async (options: { input: string; features: string[]; output: string; eps: number; minSamples: number; scale: 'standard' | 'none' }) => {
        const result = await detectDbscanFile(options);
        console.log(`wrote ${result.output}: ${result.rows} rows, ${result.clusters} clusters, ${result.outliers} outliers`);
      }),
  );
  detect.addCommand(
    fileJob('iforest')
      .description('score rows with an isolation forest; writes every input row plus score (0..1, higher = more anomalous) and label (-1 = outlier, 1 = inlier)')
      .option('--trees <n>', 'trees in the forest', wholeNumber('--trees', 1), 100)
      .option('--max-samples <n>', 'rows drawn to grow each tree (at most the row count)', wholeNumber('--max-samples', 2), 256)
      .option('--seed <n>', 'random seed', wholeNumber('--seed', 0), 0)
      .option('--contamination <share>', "expected share of outliers in (0, 0.5], or 'auto': outliers score above 0.5", contamination, 'auto' as const)
      .action(async (options: { input: string; features: string[]; output: string; trees: number; maxSamples: number; seed: number; contamination: 'auto' | number }) => {
        const result = await detectIsolationForestFile({ ...options, nEstimators: options.trees });
        console.log(`wrote ${result.output}: ${result.rows} rows, ${result.outliers} outliers`);
      }),
  );
  return detect;
}

function sampleCommand(): Command {
  const sample = new Command('sample').description('write seeded sample data into the lake');
  sample.addCommand(
    withCommonOptions(new Command('rides'))
      .description('realistic taxi rides with ~1% injected anomalies (column is_injected_anomaly)')
      .requiredOption('--from <YYYY-MM-DD>', 'first date')
      .requiredOption('--to <YYYY-MM-DD>', 'last date (inclusive)')
      .option('--rides-per-day <n>', 'rides per day', wholeNumber('--rides-per-day', 1), 100_000)
      .option('--seed <n>', 'random seed', wholeNumber('--seed', 0), 42)
      .addOption(new Option('--format <format>', 'file format').choices(['parquet', 'csv']).default('parquet'))
      .action(async (options: CommonOptions & { from: string; to: string; ridesPerDay: number; seed: number; format: 'parquet' | 'csv' }) => {
        const { lake, config } = await loadCliConfig(options);
        try {
          const dates = dateRange(options.from, options.to);
          const progress = new Progress(dates.length);
          await writeSampleRides(lake, { ...options, dataset: config.pipelines.rides.dataset, onDay: (date, key) => progress.finishItem(date, key) }).finally(() => progress.end());
          console.log(`wrote ${dates.length} day(s) × ${options.ridesPerDay} rides to ${lake.url}`);
        } finally {
          await lake.close();
        }
      }),
  );
  sample.addCommand(
    withCommonOptions(new Command('traffic'))
      .description('per-minute network traffic of sensors (bytes, packets, flows) with labelled incidents: spikes, drops, level shifts, flat-lines')
      .option('--sensors <n>', 'sensors', wholeNumber('--sensors', 1), TRAFFIC_SAMPLE_DEFAULTS.sensors)
      .option('--days <n>', 'days from --from', wholeNumber('--days', 1), TRAFFIC_SAMPLE_DEFAULTS.days)
      .option('--from <YYYY-MM-DD>', 'first date', TRAFFIC_SAMPLE_DEFAULTS.from)
      .option('--seed <n>', 'random seed', wholeNumber('--seed', 0), TRAFFIC_SAMPLE_DEFAULTS.seed)
      .option('--nab <folder>', 'instead of the lake, write a NAB-format labelled corpus to the folder (a timestamp,value CSV per sensor and labels.json) for detour eval')
      .action(async (options: CommonOptions & TrafficSampleOptions & { nab?: string }) => {
        if (options.nab !== undefined) {
          const written = await writeNabTraffic(options.nab, options);
          console.log(`wrote ${written.length - 1} series and ${written.at(-1)}; score a detector: detour eval --detector stream --data ${options.nab} --labels ${written.at(-1)}`);
          return;
        }
        const { lake, config } = await loadCliConfig(options);
        try {
          const progress = new Progress(options.days);
          const dataset = config.pipelines.traffic.dataset;
          await writeSampleTraffic(lake, { ...options, dataset, onDay: (date, key) => progress.finishItem(date, key) }).finally(() => progress.end());
          console.log(`wrote ${options.days} day(s) × ${options.sensors} sensors × 1440 minutes to ${lake.url}/bronze/${dataset}/`);
        } finally {
          await lake.close();
        }
      }),
  );
  sample.addCommand(
    withCommonOptions(new Command('flights'))
      .description('the 3 million US flights of January–June 2001 (npm package vega-datasets), one bronze partition per day')
      .action(async (options: CommonOptions) => {
        const { lake } = await loadCliConfig(options);
        const engine = await openEngine();
        try {
          const dates = await writeSampleFlights(engine, lake, { onDay: (date, prefix) => console.log(`${date} ${prefix}`) });
          console.log(`wrote ${dates.length} day(s) of flights (${dates[0]}..${dates.at(-1)}) to ${lake.url}/bronze/flights/`);
        } finally {
          await engine.close();
          await lake.close();
        }
      }),
  );
  sample.addCommand(sampleWeatherCommand());
  sample.addCommand(sampleFleetCommand());
  return sample;
}

function initCommand(): Command {
  return new Command('init')
    .description('write the built-in configuration to an editable detour.yaml (and its JSON Schema)')
    .option('--force', 'overwrite an existing detour.yaml')
    .action(async (options: { force?: boolean }) => {
      const { configFile, schemaFile } = await writeDefaultConfig(process.cwd(), options);
      console.log(`wrote ${configFile} and ${schemaFile}`);
    });
}

/** `N partitions D1..D2, W written, U unchanged; rows per partition MIN–MAX`, and where unplaceable rows went. */
function describePartitionedIngest(result: PartitionedIngestResult, lakeUrl: string, dataset: string): string {
  const { partitions, unplaced } = result;
  const count = (value: number) => value.toLocaleString('en-US');
  const rows = partitions.map((partition) => partition.entry.rows ?? 0);
  const written = partitions.filter((partition) => partition.ingested).length;
  const lines = [
    `landed ${path.basename(result.source)} in ${lakeUrl}/bronze/${dataset}/: ${partitions.length} partition${partitions.length === 1 ? '' : 's'} ` +
      `${partitions[0].logicalDate}..${partitions.at(-1)?.logicalDate}, ${written} written, ${partitions.length - written} unchanged (same sha256); ` +
      `${count(Math.min(...rows))}–${count(Math.max(...rows))} rows per partition, ${count(rows.reduce((sum, value) => sum + value, 0))} in all`,
  ];
  if (unplaced) lines.push(`${count(unplaced.rows)} unplaceable row${unplaced.rows === 1 ? '' : 's'} kept in ${unplaced.key}, listed in ${unplaced.reportKey}`);
  return lines.join('\n');
}

type IngestOptions = CommonOptions & { file: string; date?: string; partitionBy?: string; skipUnplaceable?: boolean; replace?: boolean };

/** Where `ingest` lands the file: `--date D` or `--partition-by COLUMN`, exactly one of them. */
function ingestTarget(options: IngestOptions): { logicalDate: string } | { partitionBy: string } {
  if (options.date !== undefined && options.partitionBy !== undefined) throw new InputError('give either --date or --partition-by, not both');
  if (options.partitionBy !== undefined) return { partitionBy: options.partitionBy };
  if (options.date === undefined) throw new InputError('give --date YYYY-MM-DD (the whole file in one partition) or --partition-by COLUMN (a partition per date)');
  if (options.skipUnplaceable) throw new InputError('--skip-unplaceable goes with --partition-by');
  return { logicalDate: assertIsoDate(options.date, '--date') };
}

function ingestCommand(): Command {
  return withCommonOptions(new Command('ingest'))
    .description('land a raw file (CSV, JSON lines, Parquet; gzip too) in bronze/<dataset>/date=D/ with a manifest: as is with --date, split by day with --partition-by; with a bus, announce each landed partition (lake.landed)')
    .argument('<dataset>', 'dataset name, e.g. rides')
    .requiredOption('--file <path>', 'file to land')
    .option('--date <YYYY-MM-DD>', 'partition to land the whole file in, unchanged')
    .option('--partition-by <column>', 'timestamp or date column: each row lands in the partition of its date as written')
    .option('--skip-unplaceable', 'with --partition-by: land the rows that have a date; the others go to bronze/<dataset>/_unplaced/, listed')
    .option('--replace', 'overwrite a file of the same name with different content')
    .action(async (dataset: string, options: IngestOptions) => {
      const target = ingestTarget(options);
      const { lake, config } = await loadCliConfig(options);
      try {
        let landed: LandedFile[];
        if ('partitionBy' in target) {
          const result = await ingestPartitionedFile(lake, { ...options, dataset, partitionBy: target.partitionBy });
          console.log(describePartitionedIngest(result, lake.url, dataset));
          landed = result.partitions;
        } else {
          const result = await ingestFile(lake, { ...options, dataset, logicalDate: target.logicalDate });
          const what = result.ingested ? 'ingested' : 'already ingested (same sha256), nothing to do:';
          console.log(`${what} ${result.key} (${result.entry.size} bytes, sha256 ${result.entry.sha256})`);
          landed = [{ logicalDate: target.logicalDate, ...result }];
        }
        // Announced even when already there: the bus and the runs' triggers make a repeat a no-op.
        const announced = await announceOnBus(config, landedEvents(dataset, landed));
        if (announced !== undefined) console.log(announced);
      } finally {
        await lake.close();
      }
    });
}

/** Every subcommand of `detour`. */
export function allCommands(): Command[] {
  return [demoCommand(), initCommand(), runCommand(), backfillCommand(), trainCommand(), ingestCommand(), detectCommand(), evalCommand(), sampleCommand(), runsCommand(), modelsCommand(), monitorCommand(), serveCommand(), workerCommand(), envCommand()];
}
