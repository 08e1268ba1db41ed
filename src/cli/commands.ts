import { Command, Option } from 'commander';
import { writeDefaultConfig, type TablePipelineConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { assertIsoDate, dateRange, partitionPrefix } from '../lake/index.js';
import {
  detectDbscanFile,
  detectIsolationForestFile,
  ingestFile,
  RIDES_PIPELINE,
  runRidesPipeline,
  runTablePipeline,
  type PublishedAnomaly,
  type RidesRunSummary,
  type TableRunResult,
} from '../pipeline/index.js';
import { writeSampleFlights, writeSampleRides } from '../sample/index.js';
import { openEngine } from '../engine/index.js';
import type { RunRecord } from '../store/index.js';
import { loadCliConfig, openCliContext, withCommonOptions, type CliContext, type CommonOptions } from './context.js';
import { formatTable, Progress, StageProgress } from './format.js';

function positiveNumber(flag: string) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isFinite(number) || number <= 0) throw new InputError(`${flag} must be a positive number, got "${value}"`);
    return number;
  };
}

function wholeNumber(flag: string, min: number) {
  return (value: string): number => {
    const number = Number(value);
    if (!Number.isInteger(number) || number < min) throw new InputError(`${flag} must be a whole number of at least ${min}, got "${value}"`);
    return number;
  };
}

/** Dates named by `--date D` or `--from D1 --to D2`. */
function datesOf(options: { date?: string; from?: string; to?: string }): string[] {
  if (options.date !== undefined) {
    if (options.from !== undefined || options.to !== undefined) throw new InputError('give either --date or --from/--to, not both');
    return [assertIsoDate(options.date, '--date')];
  }
  if (options.from === undefined || options.to === undefined) throw new InputError('give --date YYYY-MM-DD, or --from and --to');
  return dateRange(options.from, options.to);
}

async function withContext<T>(options: CommonOptions, work: (context: CliContext) => Promise<T>): Promise<T> {
  const context = await openCliContext(options);
  try {
    return await work(context);
  } finally {
    await context.close();
  }
}

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${(value * 100).toFixed(1)}%`;
}

export const SUMMARY_HEADERS = ['date', 'rows', 'quarantined', 'outliers', 'recall', 'seconds'];

export function summaryRow(summary: RidesRunSummary): (string | number)[] {
  return [summary.logical_date, summary.rows_read, summary.rows_quarantined, summary.outliers, percent(summary.injected_anomalies?.recall), summary.seconds.toFixed(2)];
}

/** Runs the rides pipeline for each date in order with a progress display; stops at the first failure. */
export async function runDates(context: CliContext, dates: string[]): Promise<RidesRunSummary[]> {
  const progress = new Progress(dates.length);
  const summaries: RidesRunSummary[] = [];
  for (const logicalDate of dates) {
    try {
      const summary = await runRidesPipeline(
        { lake: context.lake, store: context.store, onStep: (date, step) => progress.update(date, step) },
        context.config.pipelines.rides,
        logicalDate,
      );
      summaries.push(summary);
      progress.finishItem(logicalDate, `ok: ${summary.rows_read} rows, ${summary.rows_quarantined} quarantined, ${summary.outliers} outliers (run ${summary.run_id})`);
    } catch (error) {
      progress.finishItem(logicalDate, 'failed');
      throw error;
    }
  }
  return summaries;
}

/** Runs a declarative pipeline over `dates` with progress, then prints per-date counts, stage times and the top anomalies. */
export async function runTableDates(context: CliContext, pipelineName: string, dates: string[]): Promise<TableRunResult> {
  const pipeline = context.config.pipelines[pipelineName] as TablePipelineConfig;
  const progress = new StageProgress();
  const result = await runTablePipeline(
    { lake: context.lake, store: context.store, onStep: (item, stage) => progress.update(item, stage) },
    pipelineName,
    pipeline,
    context.config.datasets[pipeline.dataset],
    dates,
  );
  progress.done();
  const rows = result.summaries.map((summary) => [summary.logical_date, summary.rows_read, summary.rows_quarantined, summary.anomalies]);
  const total = ['total', ...[1, 2, 3].map((column) => rows.reduce((sum, row) => sum + Number(row[column]), 0))];
  const shown = rows.length > 10 ? [...rows.slice(0, 3), ['…', '', '', ''], ...rows.slice(-3)] : rows;
  console.log(formatTable(['date', 'rows', 'quarantined', 'anomalies'], [...shown, total]));
  console.log(`seconds by stage: ${Object.entries(result.stageSeconds).map(([stage, seconds]) => `${stage} ${seconds.toFixed(2)}`).join(' · ')}`);
  // Scores saturate near 1 for extreme days; among equals, the farther outside its band ranks first.
  const beyondBand = (row: PublishedAnomaly) =>
    row.value !== null && row.expected !== null && row.upper !== null && row.lower !== null && row.upper > row.lower
      ? Math.abs(row.value - row.expected) / ((row.upper - row.lower) / 2)
      : 0;
  const top = [...result.anomalies].sort((a, b) => b.score - a.score || beyondBand(b) - beyondBand(a) || (a.id < b.id ? -1 : 1)).slice(0, 5);
  if (top.length > 0) {
    console.log(`\ntop anomalies:\n${formatTable(['id', 'detector', 'score', 'reason'], top.map((row) => [row.id, row.detector, row.score.toFixed(3), row.reason]))}`);
  }
  const skipped = result.summaries[0]?.skipped.length ?? 0;
  if (skipped > 0) console.log(`${skipped} entit${skipped === 1 ? 'y' : 'ies'} skipped (too little history or constant); see summary.json`);
  console.log(`outputs: ${context.lake.url}/gold/${pipelineName}_anomalies/ · table ${pipelineName}_anomalies in ${context.store.description}`);
  return result;
}

function runCommand(): Command {
  return withCommonOptions(new Command('run'))
    .description('run a pipeline for one logical date or a range of dates')
    .argument('<pipeline>', 'pipeline name (built in: rides, flights; more in detour.yaml)')
    .option('--date <YYYY-MM-DD>', 'logical date to process')
    .option('--from <YYYY-MM-DD>', 'first date of a range')
    .option('--to <YYYY-MM-DD>', 'last date of a range (inclusive)')
    .action(async (pipeline: string, options: CommonOptions & { date?: string; from?: string; to?: string }) => {
      const dates = datesOf(options);
      await withContext(options, async (context) => {
        if (!(pipeline in context.config.pipelines)) {
          throw new InputError(`unknown pipeline "${pipeline}" (available: ${Object.keys(context.config.pipelines).join(', ')})`);
        }
        if (pipeline !== RIDES_PIPELINE) {
          await runTableDates(context, pipeline, dates);
          return;
        }
        const summaries = await runDates(context, dates);
        console.log(formatTable(SUMMARY_HEADERS, summaries.map(summaryRow)));
        console.log(`outputs: ${context.lake.url}/gold/ride_anomalies/ · run store: ${context.store.description}`);
      });
    });
}

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
          await writeSampleRides(lake, { ...options, dataset: config.pipelines.rides.dataset, onDay: (date, key) => progress.finishItem(date, key) });
          console.log(`wrote ${dates.length} day(s) × ${options.ridesPerDay} rides to ${lake.url}`);
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
          const dates = await writeSampleFlights(engine, lake, { onDay: (date, prefix) => console.error(`${date} ${prefix}`) });
          console.log(`wrote ${dates.length} day(s) of flights (${dates[0]}..${dates.at(-1)}) to ${lake.url}/bronze/flights/`);
        } finally {
          await engine.close();
          await lake.close();
        }
      }),
  );
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

function ingestCommand(): Command {
  return withCommonOptions(new Command('ingest'))
    .description('land a raw file (CSV, JSON lines, Parquet; gzip too) unchanged in bronze/<dataset>/date=D/ with a manifest')
    .argument('<dataset>', 'dataset name, e.g. rides')
    .requiredOption('--file <path>', 'file to land')
    .option('--date <YYYY-MM-DD>', 'partition date (default: today, UTC)')
    .option('--replace', 'overwrite a file of the same name with different content')
    .action(async (dataset: string, options: CommonOptions & { file: string; date?: string; replace?: boolean }) => {
      const logicalDate = assertIsoDate(options.date ?? new Date().toISOString().slice(0, 10), '--date');
      const { lake } = await loadCliConfig(options);
      try {
        const result = await ingestFile(lake, { dataset, file: options.file, logicalDate, replace: options.replace });
        const what = result.ingested ? 'ingested' : 'already ingested (same sha256), nothing to do:';
        console.log(`${what} ${result.key} (${result.entry.size} bytes, sha256 ${result.entry.sha256})`);
      } finally {
        await lake.close();
      }
    });
}

function describeRun(run: RunRecord): (string | number)[] {
  const seconds = run.finishedAt ? ((run.finishedAt.getTime() - run.startedAt.getTime()) / 1000).toFixed(2) : '-';
  return [run.id, run.pipeline, run.logicalDate, run.status, run.rowsRead ?? '-', run.rowsQuarantined ?? '-', run.outliers ?? '-', seconds];
}

function runsCommand(): Command {
  const runs = new Command('runs').description('list and inspect recorded runs');
  runs.addCommand(
    withCommonOptions(new Command('list'))
      .description('list runs, newest first (the default)')
      .option('--pipeline <name>', 'only this pipeline')
      .option('--limit <n>', 'at most this many', wholeNumber('--limit', 1), 20)
      .action(async (options: CommonOptions & { pipeline?: string; limit: number }) => {
        await withContext(options, async (context) => {
          const records = await context.store.listRuns({ pipeline: options.pipeline, limit: options.limit });
          if (records.length === 0) console.log('no runs yet');
          else console.log(formatTable(['id', 'pipeline', 'date', 'status', 'rows', 'quarantined', 'outliers', 'seconds'], records.map(describeRun)));
        });
      }),
    { isDefault: true },
  );
  runs.addCommand(
    withCommonOptions(new Command('show'))
      .description('show one run (full id or a unique prefix)')
      .argument('<id>', 'run id')
      .action(async (id: string, options: CommonOptions) => {
        await withContext(options, async (context) => {
          const run = await context.store.getRun(id);
          console.log(JSON.stringify(run, null, 2));
        });
      }),
  );
  return runs;
}

const DEMO = { from: '2024-01-01', to: '2024-01-07', ridesPerDay: 100_000, seed: 42 } as const;
/** The half year of real flights that `npm start` runs the flights pipeline over. */
const FLIGHTS_DEMO = { pipeline: 'flights', from: '2001-01-01', to: '2001-06-30' } as const;

/** The main job (`npm start`): sample lake if absent, the rides pipeline for each day, a summary. */
function demoCommand(): Command {
  return withCommonOptions(new Command('demo'))
    .description(
      `create a sample lake if absent (rides ${DEMO.from}..${DEMO.to}, ${DEMO.ridesPerDay}/day; the 3M flights of 2001) and run the rides and flights pipelines`,
    )
    .action(async (options: CommonOptions) => {
      await withContext(options, async (context) => {
        const dates = dateRange(DEMO.from, DEMO.to);
        const dataset = context.config.pipelines.rides.dataset;
        const missing: string[] = [];
        for (const date of dates) if ((await context.lake.list(partitionPrefix('bronze', dataset, date))).length === 0) missing.push(date);
        if (missing.length > 0) {
          console.log(`creating sample rides in ${context.lake.url} for ${missing.length} day(s) × ${DEMO.ridesPerDay} rides`);
          const progress = new Progress(missing.length);
          for (const date of missing) {
            await writeSampleRides(context.lake, { ...DEMO, from: date, to: date, format: 'parquet', dataset, onDay: (day, key) => progress.finishItem(day, key) });
          }
        }
        console.log(`running pipeline ${RIDES_PIPELINE} on ${dates.length} day(s)`);
        const summaries = await runDates(context, dates);
        console.log(`\n${formatTable(SUMMARY_HEADERS, summaries.map(summaryRow))}\n`);
        const recallByKind = new Map<string, { total: number; flagged: number }>();
        for (const summary of summaries) {
          for (const [kind, counts] of Object.entries(summary.injected_anomalies?.by_kind ?? {})) {
            const week = recallByKind.get(kind) ?? { total: 0, flagged: 0 };
            recallByKind.set(kind, { total: week.total + counts.total, flagged: week.flagged + counts.flagged });
          }
        }
        if (recallByKind.size > 0) {
          const parts = [...recallByKind].map(([kind, counts]) => `${kind} ${percent(counts.flagged / counts.total)} of ${counts.total}`);
          console.log(`recall by injected kind: ${parts.join(' · ')}`);
        }
        console.log(`anomalies: ${context.lake.url}/gold/ride_anomalies/date=*/anomalies.json`);
        console.log(`summaries: ${context.lake.url}/gold/ride_clusters/date=*/summary.json`);
        console.log(`results DB: table ride_anomalies in ${context.store.description}`);

        const flights = context.config.pipelines[FLIGHTS_DEMO.pipeline] as TablePipelineConfig;
        if ((await context.lake.list(partitionPrefix('bronze', flights.dataset, FLIGHTS_DEMO.from))).length === 0) {
          console.log(`\nloading the 3M US flights of January–June 2001 into ${context.lake.url}/bronze/${flights.dataset}/`);
          const engine = await openEngine();
          try {
            await writeSampleFlights(engine, context.lake, { dataset: flights.dataset });
          } finally {
            await engine.close();
          }
        }
        console.log(`\nrunning pipeline ${FLIGHTS_DEMO.pipeline} on ${FLIGHTS_DEMO.from}..${FLIGHTS_DEMO.to} (clean, quality, aggregate per airport and day, ARIMA + Isolation Forest, publish)`);
        await runTableDates(context, FLIGHTS_DEMO.pipeline, dateRange(FLIGHTS_DEMO.from, FLIGHTS_DEMO.to));
        console.log('\nnext: detour runs · detour runs show <id> · detour --help');
      });
    });
}

/** Every subcommand of `detour`. */
export function allCommands(): Command[] {
  return [demoCommand(), initCommand(), runCommand(), ingestCommand(), detectCommand(), sampleCommand(), runsCommand()];
}
