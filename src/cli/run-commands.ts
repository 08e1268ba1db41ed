import { Command } from 'commander';
import { partitionPrefix } from '../lake/index.js';
import { dateRange } from '../dates.js';
import { backfill, paramsOf, pipelineLayout, recordTrainingSummary, rerunRun, resumeRun, runParamsOf, startRun, sumLabelledIncidents, type RunResult, type RunSummary } from '../pipeline/index.js';
import { printTrainingResult } from './model-format.js';
import { runFleetDemo } from './fleet-demo.js';
import { runTrafficDemo } from './traffic-demo.js';
import { writeSampleFlights, writeSampleRides } from '../sample/index.js';
import { openEngine } from '../engine/index.js';
import type { AnomalyRow, RunRecord, StepRecord } from '../store/index.js';
import type { DetourConfig } from '../config/index.js';
import { withCommonOptions, withContext, withStepProgress, type CliContext, type CommonOptions } from './context.js';
import { formatTable, labelledIncidentsReport, Progress, runSeconds } from './format.js';
import { datesOf, stepParallelOption, wholeNumber } from './options.js';

function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${(value * 100).toFixed(1)}%`;
}

/** Precision and recall of a day's published anomalies on labelled rows, when the run measured them. */
function evaluationOf(summary: RunSummary): RunSummary['evaluation'] {
  return summary.evaluation ?? Object.values(summary.detections).find((facts) => facts.injected_anomalies)?.injected_anomalies;
}

/** Share of a day's labelled incidents a series detector found (any of their rows flagged), when the run compared them. */
function incidentRecallOf(summary: RunSummary): number | null | undefined {
  if (summary.labelled_incidents === undefined) return undefined;
  const kinds = Object.values(sumLabelledIncidents(Object.values(summary.labelled_incidents)).by_kind);
  const incidents = kinds.reduce((sum, counts) => sum + counts.incidents, 0);
  return incidents === 0 ? null : kinds.reduce((sum, counts) => sum + counts.found, 0) / incidents;
}

/** Per injected kind over several days: labelled rows, how many were flagged, precision and recall (false alarms of all days against each kind). */
function kindTable(summaries: readonly RunSummary[]): string | undefined {
  const kinds = new Map<string, { total: number; flagged: number }>();
  let falseAlarms = 0;
  for (const summary of summaries) {
    const evaluation = evaluationOf(summary);
    if (evaluation === undefined) continue;
    falseAlarms += evaluation.false_alarms;
    for (const [kind, counts] of Object.entries(evaluation.by_kind)) {
      const days = kinds.get(kind) ?? { total: 0, flagged: 0 };
      kinds.set(kind, { total: days.total + counts.total, flagged: days.flagged + counts.flagged });
    }
  }
  if (kinds.size === 0) return undefined;
  const rows = [...kinds].map(([kind, { total, flagged }]) => [kind, total, flagged, percent(flagged + falseAlarms > 0 ? flagged / (flagged + falseAlarms) : null), percent(total > 0 ? flagged / total : null)]);
  return `${formatTable(['injected kind', 'rows', 'found', 'precision', 'recall'], rows)}\nfalse alarms: ${falseAlarms} normal rows flagged; a kind's precision counts all of them against it`;
}

/** Seconds per step of a run, summed over its partitions. */
function stepSeconds(steps: StepRecord[]): string {
  const totals = new Map<string, number>();
  for (const step of steps) if (step.seconds !== null) totals.set(step.step, (totals.get(step.step) ?? 0) + step.seconds);
  return [...totals].map(([step, seconds]) => `${step} ${seconds.toFixed(2)}`).join(' · ');
}

/** Per-date counts, step times, the top anomalies and where the outputs went (a training run: what it trained). */
async function printRunResult(context: CliContext, result: RunResult): Promise<void> {
  const { run, summaries } = result;
  // The run's own recorded pipeline (a rerun may predate today's config).
  const { pipeline, training } = paramsOf(run);
  if (training !== undefined) {
    printTrainingResult(context, await recordTrainingSummary(context.lake, result));
    return;
  }
  const evaluated = summaries.some((summary) => evaluationOf(summary) !== undefined);
  const incidents = summaries.some((summary) => summary.labelled_incidents !== undefined);
  const predicting = pipeline.predict !== undefined;
  const predicted = (summary: RunSummary) => (summary.predictions === undefined || 'skipped' in summary.predictions ? 0 : summary.predictions.rows);
  const rows = summaries.map((summary) => [
    summary.logical_date,
    summary.rows_read,
    summary.rows_quarantined,
    summary.anomalies,
    ...(predicting ? [predicted(summary)] : []),
    ...(evaluated ? [percent(evaluationOf(summary)?.precision), percent(evaluationOf(summary)?.recall)] : []),
    ...(incidents ? [percent(incidentRecallOf(summary))] : []),
  ]);
  const total = ['total', ...[1, 2, 3, ...(predicting ? [4] : [])].map((column) => rows.reduce((sum, row) => sum + Number(row[column]), 0)), ...(evaluated ? ['', ''] : []), ...(incidents ? [''] : [])];
  const shown = rows.length > 10 ? [...rows.slice(0, 3), rows[0].map(() => '…'), ...rows.slice(-3)] : rows;
  const headers = ['date', 'rows', 'quarantined', 'anomalies', ...(predicting ? ['predicted'] : []), ...(evaluated ? ['precision', 'recall'] : []), ...(incidents ? ['incident recall'] : [])];
  console.log(formatTable(headers, [...shown, total]));
  console.log(`run ${run.id} ${run.status} in ${runSeconds(run)} s · seconds by step: ${stepSeconds(result.steps)}`);
  const layout = pipelineLayout(run.pipeline, pipeline, run.logicalDate);
  const table = layout.anomaliesTable;
  const published: AnomalyRow[] = [];
  for (const summary of summaries) published.push(...(await context.store.listAnomalies(table, summary.logical_date)));
  // Scores saturate near 1 for extreme cases; among equals, the farther outside its band ranks first.
  const beyondBand = (row: AnomalyRow) =>
    row.value !== null && row.expected !== null && row.upper !== null && row.lower !== null && row.upper > row.lower ? Math.abs(row.value - row.expected) / ((row.upper - row.lower) / 2) : 0;
  const top = published.sort((a, b) => b.score - a.score || beyondBand(b) - beyondBand(a) || (a.id < b.id ? -1 : 1)).slice(0, 5);
  if (top.length > 0) console.log(`\ntop anomalies:\n${formatTable(['id', 'detector', 'score', 'reason'], top.map((row) => [row.id, row.detector, row.score.toFixed(3), row.reason]))}`);
  if (summaries.some((summary) => summary.labelled_incidents !== undefined)) console.log(`\n${labelledIncidentsReport(summaries)}`);
  const skipped = summaries[0]?.skipped.length ?? 0;
  if (skipped > 0) console.log(`${skipped} entit${skipped === 1 ? 'y' : 'ies'} skipped (too little history, too few records behind their values, or constant); see summary.json`);
  const notPredicted = summaries.flatMap((summary) => (summary.predictions !== undefined && 'skipped' in summary.predictions ? [summary.predictions.skipped] : []));
  if (notPredicted.length > 0) console.log(`nothing predicted: ${notPredicted[0]}`);
  console.log(`outputs: ${context.lake.url}/${layout.anomalies.replace(/date=.*$/, '')} · table ${table} in ${context.store.description}`);
  if (predicting) console.log(`predictions: ${context.lake.url}/${layout.predictions.replace(/date=.*$/, '')} · table ${layout.predictionsTable}`);
}

/** withContext's check for a command on one pipeline: runParamsOf refuses a name the config lacks. */
function knownPipeline(pipeline: string): (config: DetourConfig) => void {
  return (config) => void runParamsOf(config, pipeline);
}

export function runCommand(): Command {
  return withCommonOptions(new Command('run'))
    .description('run a pipeline once over one logical date or a range of dates (one run, modelled together)')
    .argument('<pipeline>', 'pipeline name (built in: rides, flights, traffic, weather, fleet; more in detour.yaml)')
    .option('--date <YYYY-MM-DD>', 'logical date to process')
    .option('--from <YYYY-MM-DD>', 'first date of a range')
    .option('--to <YYYY-MM-DD>', 'last date of a range (inclusive)')
    .addOption(stepParallelOption())
    .action(async (pipeline: string, options: CommonOptions & { date?: string; from?: string; to?: string; parallel: number }) => {
      const dates = datesOf(options);
      await withContext(
        options,
        async (context) => {
          const result = await withStepProgress(context, options.parallel, (services) => startRun(services, pipeline, runParamsOf(context.config, pipeline), dates));
          await printRunResult(context, result);
        },
        knownPipeline(pipeline),
      );
    });
}

export function backfillCommand(): Command {
  return withCommonOptions(new Command('backfill'))
    .description('run a pipeline for every date of a range, one run per date; dates already succeeded are skipped')
    .argument('<pipeline>', 'pipeline name')
    .requiredOption('--from <YYYY-MM-DD>', 'first date')
    .requiredOption('--to <YYYY-MM-DD>', 'last date (inclusive)')
    .option('--parallel <n>', 'dates run at once', wholeNumber('--parallel', 1), 1)
    .option('--force', 'also rerun dates that already succeeded')
    .action(async (pipeline: string, options: CommonOptions & { from: string; to: string; parallel: number; force?: boolean }) => {
      const dates = dateRange(options.from, options.to);
      await withContext(options, async (context) => {
        const progress = new Progress(dates.length);
        const services = await context.services({ concurrency: options.parallel });
        const started = performance.now();
        const result = await backfill(services, pipeline, runParamsOf(context.config, pipeline), options.from, options.to, {
          parallel: options.parallel,
          force: options.force,
          onDate: (date, outcome) =>
            progress.finishItem(
              date,
              outcome.status === 'succeeded'
                ? `ok: ${outcome.run.run.rowsRead} rows, ${outcome.run.run.outliers} anomalies (run ${outcome.run.run.id})`
                : outcome.status === 'failed'
                  ? `failed: ${outcome.error}`
                  : 'skipped (already succeeded; --force reruns it)',
            ),
        }).finally(() => progress.end());
        const seconds = (performance.now() - started) / 1000;
        console.log(
          `backfill ${pipeline} ${options.from}..${options.to}: ${result.succeeded.length} succeeded, ${result.failed.length} failed, ${result.skipped.length} skipped in ${seconds.toFixed(1)} s`,
        );
        if (result.failed.length > 0) {
          console.log(formatTable(['date', 'error'], result.failed.map((failure) => [failure.date, failure.error])));
          throw new Error(`${result.failed.length} of ${dates.length} dates failed`);
        }
      }, knownPipeline(pipeline));
    });
}

function describeRun(run: RunRecord): (string | number)[] {
  const dates = run.endDate === run.logicalDate ? run.logicalDate : `${run.logicalDate}..${run.endDate}`;
  const pipeline = run.params.training === undefined ? run.pipeline : `${run.pipeline} (train)`;
  return [run.id, pipeline, dates, run.status, run.rowsRead ?? '-', run.rowsQuarantined ?? '-', run.outliers ?? '-', runSeconds(run)];
}

export function runsCommand(): Command {
  const runs = new Command('runs').description('list, inspect, resume and rerun recorded runs');
  runs.addCommand(
    withCommonOptions(new Command('list'))
      .description('list runs, newest first (the default)')
      .option('--pipeline <name>', 'only this pipeline')
      .option('--limit <n>', 'at most this many', wholeNumber('--limit', 1), 20)
      .action(async (options: CommonOptions & { pipeline?: string; limit: number }) => {
        await withContext(options, async (context) => {
          const records = await context.store.listRuns({ pipeline: options.pipeline, limit: options.limit });
          if (records.length === 0) console.log('no runs yet');
          else console.log(formatTable(['id', 'pipeline', 'dates', 'status', 'rows', 'quarantined', 'anomalies', 'seconds'], records.map(describeRun)));
        });
      }),
    { isDefault: true },
  );
  runs.addCommand(
    withCommonOptions(new Command('show'))
      .description('show one run (full id or a unique prefix) and its steps with their timings')
      .argument('<id>', 'run id')
      .option('--json', 'the run and its steps as JSON')
      .action(async (id: string, options: CommonOptions & { json?: boolean }) => {
        await withContext(options, async (context) => {
          const run = await context.store.getRun(id);
          const steps = await context.store.listSteps(run.id);
          if (options.json) {
            console.log(JSON.stringify({ ...run, steps }, null, 2));
            return;
          }
          const { params: _params, ...facts } = run;
          console.log(formatTable(['field', 'value'], Object.entries(facts).map(([field, value]) => [field, value instanceof Date ? value.toISOString() : String(value ?? '-')])));
          console.log(
            `\n${formatTable(
              ['step', 'partition', 'status', 'attempts', 'seconds', 'error'],
              steps.map((step) => [step.step, step.partition, step.status, step.attempts, step.seconds?.toFixed(2) ?? '-', step.error ?? '']),
            )}`,
          );
        });
      }),
  );
  runs.addCommand(
    withCommonOptions(new Command('resume'))
      .description('re-run a failed run from its failed step, reusing what its other steps produced')
      .argument('<id>', 'run id or unique prefix')
      .addOption(stepParallelOption())
      .action(async (id: string, options: CommonOptions & { parallel: number }) => {
        await withContext(options, async (context) => {
          await printRunResult(context, await withStepProgress(context, options.parallel, (services) => resumeRun(services, id)));
        });
      }),
  );
  runs.addCommand(
    withCommonOptions(new Command('rerun'))
      .description("re-execute a run with its recorded parameters against its recorded inputs (refused if they changed)")
      .argument('<id>', 'run id or unique prefix')
      .option('--allow-changed-inputs', 'run even though inputs changed since the original run')
      .addOption(stepParallelOption())
      .action(async (id: string, options: CommonOptions & { allowChangedInputs?: boolean; parallel: number }) => {
        await withContext(options, async (context) => {
          const result = await withStepProgress(context, options.parallel, (services) => rerunRun(services, id, { allowChangedInputs: options.allowChangedInputs }));
          await printRunResult(context, result);
          console.log(`rerun of ${(result.run.params as { rerun_of?: string }).rerun_of}`);
        });
      }),
  );
  return runs;
}

const DEMO = { from: '2024-01-01', to: '2024-01-07', ridesPerDay: 100_000, seed: 42 } as const;
/** The half year of real flights that `npm start` runs the flights pipeline over. */
const FLIGHTS_DEMO = { pipeline: 'flights', from: '2001-01-01', to: '2001-06-30' } as const;

/** The main job (`npm start`): sample lake if absent, a rides run per day, the flights half year, then traffic: train, promote, detect. */
export function demoCommand(): Command {
  return withCommonOptions(new Command('demo'))
    .description(
      `create a sample lake if absent (rides ${DEMO.from}..${DEMO.to}, ${DEMO.ridesPerDay}/day; the 3M flights of 2001; a few traffic sensors; the weather of 2012–2015 and fleet rides) and run the rides, flights, traffic and fleet pipelines`,
    )
    .action(async (options: CommonOptions) => {
      await withContext(options, async (context) => {
        const dates = dateRange(DEMO.from, DEMO.to);
        const rides = context.config.pipelines.rides;
        const missing: string[] = [];
        for (const date of dates) if ((await context.lake.list(partitionPrefix('bronze', rides.dataset, date))).length === 0) missing.push(date);
        if (missing.length > 0) {
          console.log(`creating sample rides in ${context.lake.url} for ${missing.length} day(s) × ${DEMO.ridesPerDay} rides`);
          const progress = new Progress(missing.length);
          try {
            for (const date of missing) {
              await writeSampleRides(context.lake, { ...DEMO, from: date, to: date, format: 'parquet', dataset: rides.dataset, onDay: (day, key) => progress.finishItem(day, key) });
            }
          } finally {
            progress.end();
          }
        }
        console.log(`running pipeline rides on ${dates.length} day(s), one run per day`);
        // Two step partitions at once: the flights half year splits into 6 month-long clean jobs.
        const services = await context.services({ concurrency: 2 });
        const progress = new Progress(dates.length);
        const result = await backfill(services, 'rides', runParamsOf(context.config, 'rides'), DEMO.from, DEMO.to, {
          force: true,
          onDate: (date, outcome) => progress.finishItem(date, outcome.status === 'succeeded' ? `ok (run ${outcome.run.run.id})` : outcome.status),
        }).finally(() => progress.end());
        if (result.failed.length > 0) throw new Error(`rides failed on ${result.failed.map((failure) => `${failure.date}: ${failure.error}`).join('; ')}`);
        const days = result.succeeded.map((run) => ({ run: run.run, summary: run.summaries[0] }));
        console.log(
          `\n${formatTable(
            ['date', 'rows', 'quarantined', 'anomalies', 'precision', 'recall', 'seconds'],
            days.map(({ run, summary }) => [summary.logical_date, summary.rows_read, summary.rows_quarantined, summary.anomalies, percent(evaluationOf(summary)?.precision), percent(evaluationOf(summary)?.recall), runSeconds(run)]),
          )}\n`,
        );
        const byKind = kindTable(days.map(({ summary }) => summary));
        if (byKind !== undefined) console.log(`${byKind}\n`);
        const layout = pipelineLayout('rides', rides, DEMO.from);
        console.log(`anomalies: ${context.lake.url}/${layout.anomalies.replace(/date=.*$/, 'date=*/anomalies.json')}`);
        console.log(`summaries: ${context.lake.url}/${layout.summary.replace(/date=.*$/, 'date=*/summary.json')}`);
        console.log(`results DB: table ${layout.anomaliesTable} in ${context.store.description}`);

        const flights = context.config.pipelines[FLIGHTS_DEMO.pipeline];
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
        const flightsRun = await withStepProgress(context, 2, (flightServices) =>
          startRun(flightServices, FLIGHTS_DEMO.pipeline, runParamsOf(context.config, FLIGHTS_DEMO.pipeline), dateRange(FLIGHTS_DEMO.from, FLIGHTS_DEMO.to)),
        );
        await printRunResult(context, flightsRun);
        await runTrafficDemo(context);
        await runFleetDemo(context);
        console.log('\nnext: detour runs · detour runs show <id> · detour models · detour backfill · detour serve · detour --help');
      });
    });
}
