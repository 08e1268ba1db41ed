/**
 * What people look at beside the published anomalies (the dashboard, through the HTTP API): every
 * record of a day a record detector judged, one entity's series a series detector judged, and a
 * day's quarantined rows. Read from the lake's silver and gold partitions, values bound.
 */
import type { DetectStepConfig, RecordStepConfig, TablePipelineConfig } from '../config/index.js';
import { openEngine, sqlIdentifier, type Engine } from '../engine/index.js';
import { InputError, NotFoundError } from '../errors.js';
import { aggregateKey, listPartitionFiles, quarantineKey, silverKey, type Lake } from '../lake/index.js';

/** A column a plot axis shows, with the words and unit people read it by. */
export interface RecordAxis {
  column: string;
  label: string;
  unit: string | null;
}

/** Every record of one day of a record detector's table: its id and the two numbers plotted, in id order. */
export interface DayRecords {
  /** The table read: the dataset (silver) or an aggregate step (gold). */
  table: string;
  x: RecordAxis;
  y: RecordAxis;
  ids: string[];
  xValues: Float64Array;
  yValues: Float64Array;
}

type SeriesStep = Extract<DetectStepConfig, { detector: 'arima' | 'iforest' | 'autoencoder' }>;

/** One entity's values of a series detector's table, in time order. */
export interface EntitySeries {
  table: string;
  /** The step's detector (`arima`, `iforest`, `autoencoder`). */
  detector: SeriesStep['detector'];
  /** The column plotted: the step's `value`, or its first feature. */
  value: string;
  timeMs: Float64Array;
  values: Float64Array;
}

/** A day's quarantined rows: how many, how many per reason (most frequent first), and the first few. */
export interface QuarantineSample {
  rows: number;
  reasons: { reason: string; rows: number }[];
  /** Every column as text, with `_source_file`, `_source_row`, `_raw_line` and `_reason`. */
  sample: Record<string, string | number | null>[];
}

/** Detectors that judge a day's records one by one (a scatter shows them). */
export const RECORD_DETECTOR_KINDS: readonly string[] = ['dbscan', 'conditional', 'pattern'];
/** Detectors that judge an entity's series (a line with its band shows them). */
export const SERIES_DETECTOR_KINDS: readonly string[] = ['arima', 'iforest', 'autoencoder'];

function recordStepOf(pipelineName: string, pipeline: TablePipelineConfig): RecordStepConfig {
  const step = pipeline.detect.find((candidate): candidate is RecordStepConfig => RECORD_DETECTOR_KINDS.includes(candidate.detector));
  if (step === undefined) throw new InputError(`pipeline ${pipelineName} has no record detector (dbscan, conditional, pattern)`);
  return step;
}

function seriesStepOf(pipelineName: string, pipeline: TablePipelineConfig): SeriesStep {
  const step = pipeline.detect.find((candidate): candidate is SeriesStep => SERIES_DETECTOR_KINDS.includes(candidate.detector));
  if (step === undefined) throw new InputError(`pipeline ${pipelineName} has no series detector (arima, iforest, autoencoder)`);
  return step;
}

/** The plotted axes of a record step: distance against duration for ride detectors, the first two features for DBSCAN. */
function axesOf(pipelineName: string, step: RecordStepConfig): [RecordAxis, RecordAxis] {
  if (step.detector !== 'dbscan') return [step.distance, step.duration].map(({ column, label, unit }) => ({ column, label, unit })) as [RecordAxis, RecordAxis];
  if (step.features.length < 2) throw new InputError(`pipeline ${pipelineName}: its dbscan step reads one feature; a scatter needs two`);
  return [step.features[0], step.features[1]].map(({ column, label, unit }) => ({ column, label, unit: unit ?? null })) as [RecordAxis, RecordAxis];
}

/** The Parquet key of `table` on `date`: the dataset's silver, else an aggregate's gold. */
function tableKey(pipeline: TablePipelineConfig, table: string, date: string): string {
  return table === pipeline.dataset ? silverKey(table, date) : aggregateKey(table, date);
}

async function withEngine<T>(work: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await openEngine();
  try {
    return await work(engine);
  } finally {
    await engine.close();
  }
}

/**
 * Every record of `date` in the table of the pipeline's first record detector, with the two
 * numbers a scatter plots (distance and duration for rides).
 *
 * @throws InputError when the pipeline has no record detector; NotFoundError when no run cleaned that date.
 */
export async function readDayRecords(lake: Lake, pipelineName: string, pipeline: TablePipelineConfig, date: string): Promise<DayRecords> {
  const step = recordStepOf(pipelineName, pipeline);
  const [x, y] = axesOf(pipelineName, step);
  const key = tableKey(pipeline, step.table, date);
  if (!(await lake.exists(key))) throw new NotFoundError(`no ${step.table} records for ${date}: no run of ${pipelineName} has cleaned that date`);
  return withEngine(async (engine) => {
    const [file] = await engine.stage(lake, [key]);
    const columns = await engine.columns(
      `SELECT CAST(${sqlIdentifier(step.id)} AS VARCHAR) AS id, CAST(${sqlIdentifier(x.column)} AS DOUBLE) AS x, CAST(${sqlIdentifier(y.column)} AS DOUBLE) AS y
      FROM read_parquet($1) ORDER BY id`,
      [file],
    );
    const numbers = (values: unknown[]) => Float64Array.from(values as (number | null)[], (value) => value ?? Number.NaN);
    return { table: step.table, x, y, ids: columns.id as string[], xValues: numbers(columns.x), yValues: numbers(columns.y) };
  });
}

/** Reads `sql` over the partitions of the pipeline's series table dated `from`..`to`; empty columns when there are none. */
async function readSeriesTable(lake: Lake, pipeline: TablePipelineConfig, step: SeriesStep, window: { from: string; to: string }, sql: (files: string) => string, params: readonly string[]): Promise<Record<string, unknown[]> | undefined> {
  const zone = step.table === pipeline.dataset ? 'silver' : 'gold';
  const keys = (await listPartitionFiles(lake, zone, step.table, window.from, window.to)).map((file) => file.key);
  if (keys.length === 0) return undefined;
  return withEngine(async (engine) => engine.columns(sql('read_parquet($1, union_by_name = true, hive_partitioning = false)'), [await engine.stage(lake, keys), ...params]));
}

/** The entities of the pipeline's first series detector's table over `from`..`to`, sorted. */
export async function listSeriesEntities(lake: Lake, pipelineName: string, pipeline: TablePipelineConfig, window: { from: string; to: string }): Promise<string[]> {
  const step = seriesStepOf(pipelineName, pipeline);
  const entity = sqlIdentifier(step.entity);
  const columns = await readSeriesTable(lake, pipeline, step, window, (files) => `SELECT DISTINCT CAST(${entity} AS VARCHAR) AS entity FROM ${files} WHERE ${entity} IS NOT NULL ORDER BY entity`, []);
  return (columns?.entity as string[] | undefined) ?? [];
}

/**
 * One entity's series over `from`..`to` in the table of the pipeline's first series detector, in
 * time order: the step's value (an Isolation Forest step's first feature).
 *
 * @throws InputError when the pipeline has no series detector.
 */
export async function readEntitySeries(lake: Lake, pipelineName: string, pipeline: TablePipelineConfig, entity: string, window: { from: string; to: string }): Promise<EntitySeries> {
  const step = seriesStepOf(pipelineName, pipeline);
  const value = step.detector === 'iforest' ? step.features[0] : step.value;
  const time = sqlIdentifier(step.time);
  const columns = await readSeriesTable(
    lake,
    pipeline,
    step,
    window,
    (files) => `SELECT CAST(epoch_ms(CAST(${time} AS TIMESTAMP)) AS DOUBLE) AS time_ms, CAST(${sqlIdentifier(value)} AS DOUBLE) AS value
      FROM ${files} WHERE CAST(${sqlIdentifier(step.entity)} AS VARCHAR) = $2 ORDER BY time_ms`,
    [entity],
  );
  return {
    table: step.table,
    detector: step.detector,
    value,
    timeMs: Float64Array.from((columns?.time_ms as number[] | undefined) ?? []),
    values: Float64Array.from((columns?.value as (number | null)[] | undefined) ?? [], (number) => number ?? Number.NaN),
  };
}

/**
 * A dataset's quarantined rows of `date`: the count per reason (a reason's text up to its first
 * ` (`, where the offending value starts) and the first `limit` rows.
 */
export async function readQuarantine(lake: Lake, dataset: string, date: string, limit: number): Promise<QuarantineSample> {
  const key = quarantineKey(dataset, date);
  if (!(await lake.exists(key))) return { rows: 0, reasons: [], sample: [] };
  return withEngine(async (engine) => {
    const [file] = await engine.stage(lake, [key]);
    const reasons = await engine.columns(
      `SELECT regexp_replace(coalesce(_reason, 'unknown'), ' \\(.*$', '') AS reason, count(*)::DOUBLE AS rows FROM read_parquet($1) GROUP BY ALL ORDER BY rows DESC, reason`,
      [file],
    );
    const sample = await engine.columns(`SELECT * FROM read_parquet($1) LIMIT $2`, [file, limit]);
    const names = Object.keys(sample);
    const count = names.length === 0 ? 0 : sample[names[0]].length;
    const counted = (reasons.reason as string[]).map((reason, i) => ({ reason, rows: (reasons.rows as number[])[i] }));
    return {
      rows: counted.reduce((sum, entry) => sum + entry.rows, 0),
      reasons: counted,
      sample: Array.from({ length: count }, (_, row) => Object.fromEntries(names.map((name) => [name, plainValue(sample[name][row])]))),
    };
  });
}

/** A quarantined value as JSON: its text (every input column is text there), a number, or null. */
function plainValue(value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number' || typeof value === 'string') return value;
  return String(value);
}
