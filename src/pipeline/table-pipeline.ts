import type { DatasetConfig, TablePipelineConfig } from '../config/index.js';
import { openEngine, readInputTable, sqlIdentifier, sqlString, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { partitionPrefix, type Lake, type LakeObject } from '../lake/index.js';
import { assertQualityGate, checkExpectations, validateRows, type RowRules, type ValidationResult } from '../quality/index.js';
import type { AnomalyRow, RunRecord, Store } from '../store/index.js';
import { DETOUR_VERSION } from '../version.js';
import { hashInputs, listInput, writeQuarantine } from './inputs.js';
import type { PipelineContext } from './rides.js';
import { detectSeries, type Finding, type SeriesTable } from './series-detect.js';

/** Where a declarative pipeline reads and writes for one date, relative to the lake root. */
export function tableLayout(pipelineName: string, datasetName: string, logicalDate: string) {
  return {
    input: partitionPrefix('bronze', datasetName, logicalDate),
    silver: `${partitionPrefix('silver', datasetName, logicalDate)}data.parquet`,
    quarantine: `${partitionPrefix('silver', `${datasetName}_quarantine`, logicalDate)}quarantine.parquet`,
    quality: `${partitionPrefix('silver', `${datasetName}_quality`, logicalDate)}report.json`,
    aggregate: (name: string) => `${partitionPrefix('gold', name, logicalDate)}data.parquet`,
    anomalies: `${partitionPrefix('gold', `${pipelineName}_anomalies`, logicalDate)}anomalies.json`,
    summary: `${partitionPrefix('gold', `${pipelineName}_summary`, logicalDate)}summary.json`,
  };
}

/** One element of `gold/<pipeline>_anomalies/date=D/anomalies.json`. */
export interface PublishedAnomaly extends AnomalyRow {
  date: string;
}

/** Contents of `gold/<pipeline>_summary/date=D/summary.json`. */
export interface TableRunSummary {
  pipeline: string;
  run_id: string;
  logical_date: string;
  dataset: string;
  rows_read: number;
  rows_valid: number;
  rows_quarantined: number;
  quarantine_reasons: Record<string, number>;
  quality: { passed: boolean; failed_warnings: string[]; report: string };
  aggregates: { name: string; rows: number; key: string }[];
  anomalies: number;
  /** Entities a detector could not model (too little history, constant series), with why. */
  skipped: { entity: string; reason: string }[];
  /** Days the detectors learnt from, and the dates they flagged (all dates of one `run` call). */
  detection_window: { from: string; to: string; flagged_from: string; flagged_to: string };
  input: { files: { key: string; size: number }[]; sha256: string };
  outputs: { silver: string; quarantine: string | null; anomalies: string; summary: string };
  detour_version: string;
}

/** Seconds spent per stage over all dates of a call, for progress and benchmarks. */
export type StageSeconds = Record<'clean' | 'quality' | 'aggregate' | 'detect' | 'publish', number>;

export interface TableRunResult {
  summaries: TableRunSummary[];
  /** Everything published, sorted by id. */
  anomalies: PublishedAnomaly[];
  stageSeconds: StageSeconds;
}

const DAY_MS = 86_400_000;

function daysBefore(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - days * DAY_MS).toISOString().slice(0, 10);
}

/** Row rules from a dataset's typed schema, on raw column names. */
function rowRulesOf(dataset: DatasetConfig): RowRules {
  const raw = (name: string) => dataset.columns[name].from ?? name;
  const columns = Object.entries(dataset.columns);
  return {
    idColumn: dataset.key === undefined ? undefined : raw(dataset.key),
    requiredColumns: columns.filter(([, column]) => column.type === 'string' && column.required).map(([name]) => raw(name)),
    optionalColumns: columns.filter(([, column]) => !column.required).map(([name]) => raw(name)),
    numericColumns: columns.filter(([, column]) => column.type === 'number').map(([name, column]) => ({ name: raw(name), min: column.min })),
    timestampColumns: columns.filter(([, column]) => column.type === 'timestamp').map(([name]) => raw(name)),
  };
}

interface PreparedDate {
  run: RunRecord;
  summary: TableRunSummary;
}

/** A date's input, found and fingerprinted. */
interface DateInput {
  logicalDate: string;
  run: RunRecord;
  objects: LakeObject[];
  sha256: string;
}

type Timer = <T>(stage: keyof StageSeconds, work: () => Promise<T>) => Promise<T>;

/**
 * Check and aggregate one date of an already validated batch: its valid rows become the dataset's
 * table → silver, quarantine and quality report (gate) → aggregate SQL steps → gold. Publishes no
 * anomalies yet.
 */
async function prepareDate(
  engine: Engine,
  context: PipelineContext,
  pipelineName: string,
  pipeline: TablePipelineConfig,
  dataset: DatasetConfig,
  input: DateInput,
  validation: ValidationResult,
  timed: Timer,
): Promise<TableRunSummary> {
  const { lake, store } = context;
  const { logicalDate, run } = input;
  const layout = tableLayout(pipelineName, pipeline.dataset, logicalDate);
  const counts = validation.partitions[layout.input] ?? { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {}, validRowIds: null };

  const quarantineKey = await timed('clean', async () => {
    const written = await writeQuarantine(engine, lake, validation, layout.input, layout.quarantine);
    if (counts.rowsValid === 0) {
      throw new InputError(`all ${counts.rowsRead} rows of ${layout.input} were quarantined (${Object.keys(counts.reasonCounts).slice(0, 3).join(', ')}); see ${layout.quarantine}`);
    }
    // The dataset's table for this date: schema columns only, under their own names, typed by
    // validateRows; a rowid range, since a partition's valid rows are contiguous (and strings prune badly).
    const select = Object.entries(dataset.columns).map(([name, column]) => `${sqlIdentifier(column.from ?? name)} AS ${sqlIdentifier(name)}`);
    await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(pipeline.dataset)} AS
      SELECT ${select.join(', ')} FROM ${sqlIdentifier(validation.validTable)}
      WHERE rowid BETWEEN ${counts.validRowIds?.[0] ?? 0} AND ${counts.validRowIds?.[1] ?? -1}`);
    return written;
  });

  const report = await timed('quality', async () => {
    const checked = await checkExpectations(engine, pipeline.dataset, dataset.expectations, { dataset: pipeline.dataset, logicalDate });
    await lake.put(layout.quality, `${JSON.stringify(checked, null, 2)}\n`);
    await store.recordQualityResults(run.id, pipeline.dataset, logicalDate, checked.results);
    assertQualityGate(checked, layout.quality);
    await engine.exportQuery(`SELECT * FROM ${sqlIdentifier(pipeline.dataset)}`, lake, layout.silver, 'parquet');
    return checked;
  });

  const aggregates = await timed('aggregate', async () => {
    const written: TableRunSummary['aggregates'] = [];
    for (const step of pipeline.aggregate) {
      try {
        await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(step.name)} AS ${step.sql}`);
      } catch (error) {
        throw new InputError(`aggregate step ${step.name}: ${oneLine(error)}`, { cause: error });
      }
      const [{ rows }] = await engine.rows<{ rows: number }>(`SELECT count(*) AS rows FROM ${sqlIdentifier(step.name)}`);
      await engine.exportQuery(`SELECT * FROM ${sqlIdentifier(step.name)}`, lake, layout.aggregate(step.name), 'parquet');
      written.push({ name: step.name, rows, key: layout.aggregate(step.name) });
    }
    return written;
  });

  return {
    pipeline: pipelineName,
    run_id: run.id,
    logical_date: logicalDate,
    dataset: pipeline.dataset,
    rows_read: counts.rowsRead,
    rows_valid: counts.rowsValid,
    rows_quarantined: counts.rowsQuarantined,
    quarantine_reasons: counts.reasonCounts,
    quality: {
      passed: report.passed,
      failed_warnings: report.results.filter((result) => !result.passed).map((result) => `${result.expectation} (observed ${result.observed})`),
      report: layout.quality,
    },
    aggregates,
    anomalies: 0,
    skipped: [],
    detection_window: { from: '', to: '', flagged_from: '', flagged_to: '' },
    input: { files: input.objects.map(({ key, size }) => ({ key, size })), sha256: input.sha256 },
    outputs: { silver: layout.silver, quarantine: quarantineKey, anomalies: layout.anomalies, summary: layout.summary },
    detour_version: DETOUR_VERSION,
  };
}

/** An aggregate table's gold partitions from `from` to `to`, as series columns. */
async function readSeriesTable(engine: Engine, lake: Lake, step: TablePipelineConfig['detect'][number], from: string, to: string): Promise<SeriesTable> {
  const keys = (await lake.list(`gold/${step.table}/`))
    .map((object) => object.key)
    .filter((key) => {
      const date = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
      return date !== undefined && date >= from && date <= to && key.endsWith('.parquet');
    });
  const valueColumns = step.detector === 'arima' ? [step.value] : step.features;
  if (keys.length === 0) return { entity: [], day: [], values: Object.fromEntries(valueColumns.map((name) => [name, new Float64Array()])) };
  const paths = await engine.stage(lake, keys);
  const source = `read_parquet([${paths.map(sqlString).join(', ')}], union_by_name = true, hive_partitioning = false)`;
  let columns: Record<string, unknown[]>;
  try {
    columns = await engine.columns(`SELECT CAST(${sqlIdentifier(step.entity)} AS VARCHAR) AS entity,
        strftime(CAST(${sqlIdentifier(step.time)} AS DATE), '%Y-%m-%d') AS day,
        ${valueColumns.map((name, i) => `CAST(${sqlIdentifier(name)} AS DOUBLE) AS v${i}`).join(', ')}
      FROM ${source} ORDER BY entity, day`);
  } catch (error) {
    throw new InputError(`detect step ${step.detector} on ${step.table}: ${oneLine(error)}`, { cause: error });
  }
  return {
    entity: columns.entity as string[],
    day: columns.day as string[],
    values: Object.fromEntries(valueColumns.map((name, i) => [name, Float64Array.from(columns[`v${i}`] as (number | null)[], (value) => value ?? Number.NaN)])),
  };
}

/** One row per entity-day: several detectors flagging the same day share its stable id. */
function toAnomalyRows(findings: Finding[]): PublishedAnomaly[] {
  const byId = new Map<string, PublishedAnomaly>();
  for (const finding of findings) {
    const id = `${finding.entity}${finding.date.replaceAll('-', '')}`;
    const existing = byId.get(id);
    if (existing) {
      existing.detector = `${existing.detector}+${finding.detector}`;
      existing.score = Math.max(existing.score, finding.score);
      existing.reason = `${existing.reason}; ${finding.reason}`;
      continue;
    }
    const { detector, entity, date, value, expected, lower, upper, score, reason } = finding;
    byId.set(id, { id, date, detector, entity, value, expected, lower, upper, score, reason });
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Runs a declarative pipeline over `dates` (one or a range): each date is cleaned, checked and
 * aggregated in order; then every detect step learns from its aggregate's history
 * (`history` days before the first date up to the last) and flags the dates of the call; then
 * each date's anomalies are published to `<pipeline>_anomalies` (UPSERT by `entity || date`) and
 * to the lake. Each date is its own recorded run; if one fails, none of the call is published.
 */
export async function runTablePipeline(
  context: PipelineContext,
  pipelineName: string,
  pipeline: TablePipelineConfig,
  dataset: DatasetConfig,
  dates: string[],
): Promise<TableRunResult> {
  const { lake, store } = context;
  const stageSeconds: StageSeconds = { clean: 0, quality: 0, aggregate: 0, detect: 0, publish: 0 };
  const prepared: PreparedDate[] = [];
  const started: RunRecord[] = [];
  const timed: Timer = async (stage, work) => {
    const begin = performance.now();
    try {
      return await work();
    } finally {
      stageSeconds[stage] += (performance.now() - begin) / 1000;
    }
  };
  const engine = await openEngine();
  try {
    // Clean: every date's files are read and validated in one pass (rows keep their partition), which
    // costs a few statements per call instead of per date.
    const inputs: DateInput[] = [];
    const validation = await timed('clean', async () => {
      for (const logicalDate of dates) {
        context.onStep?.(logicalDate, 'clean');
        const run = await store.startRun({ pipeline: pipelineName, logicalDate, params: { pipeline, dataset } });
        started.push(run);
        const objects = await failRunOnError(store, run, () => listInput(lake, partitionPrefix('bronze', pipeline.dataset, logicalDate), pipeline.dataset));
        inputs.push({ logicalDate, run, objects, sha256: await hashInputs(engine, lake, objects) });
      }
      const input = await readInputTable(engine, lake, inputs.flatMap((dateInput) => dateInput.objects), {
        table: 'raw',
        format: dataset.format,
        requiredColumns: Object.entries(dataset.columns).map(([name, column]) => column.from ?? name),
      });
      return validateRows(engine, input, rowRulesOf(dataset));
    });
    for (const input of inputs) {
      context.onStep?.(input.logicalDate, 'check');
      const summary = await failRunOnError(store, input.run, () => prepareDate(engine, context, pipelineName, pipeline, dataset, input, validation, timed));
      prepared.push({ run: input.run, summary });
    }

    const first = dates[0];
    const last = dates[dates.length - 1];
    const findings: Finding[] = [];
    const skipped: TableRunSummary['skipped'] = [];
    let windowStart = first;
    context.onStep?.(`${first}..${last}`, 'detect');
    const detectStarted = performance.now();
    for (const step of pipeline.detect) {
      const from = daysBefore(first, step.history);
      windowStart = from < windowStart ? from : windowStart;
      const table = await readSeriesTable(engine, lake, step, from, last);
      const detection = detectSeries(step, table, { from: first, to: last, windowStart: from });
      findings.push(...detection.findings);
      skipped.push(...detection.skipped);
    }
    stageSeconds.detect += (performance.now() - detectStarted) / 1000;

    const anomalies = toAnomalyRows(findings);
    const summaries: TableRunSummary[] = [];
    for (const { run, summary } of prepared) {
      context.onStep?.(summary.logical_date, 'publish');
      const started = performance.now();
      const rows = anomalies.filter((anomaly) => anomaly.date === summary.logical_date);
      await store.replaceAnomalies(`${pipelineName}_anomalies`, summary.logical_date, run.id, rows.map(({ date: _date, ...row }) => row));
      await lake.put(summary.outputs.anomalies, `${JSON.stringify(rows, null, 1)}\n`);
      const complete: TableRunSummary = {
        ...summary,
        anomalies: rows.length,
        skipped,
        detection_window: { from: windowStart, to: last, flagged_from: first, flagged_to: last },
      };
      await lake.put(summary.outputs.summary, `${JSON.stringify(complete, null, 2)}\n`);
      await store.finishRun(run.id, { status: 'succeeded', rowsRead: complete.rows_read, rowsQuarantined: complete.rows_quarantined, outliers: rows.length });
      stageSeconds.publish += (performance.now() - started) / 1000;
      summaries.push(complete);
    }
    return { summaries, anomalies, stageSeconds };
  } catch (error) {
    // Runs of the call not finished yet (not published) fail with it.
    for (const run of started) {
      if ((await store.getRun(run.id)).status === 'running') await store.finishRun(run.id, { status: 'failed', error: `not published: ${oneLine(error)}` });
    }
    throw error;
  } finally {
    await engine.close();
  }
}

/** Runs `work`; if it throws, records `run` as failed with the error before rethrowing. */
async function failRunOnError<T>(store: Store, run: RunRecord, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    await store.finishRun(run.id, { status: 'failed', error: oneLine(error) });
    throw error;
  }
}
