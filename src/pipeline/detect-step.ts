import type { DetectStepConfig } from '../config/index.js';
import { openEngine, sqlIdentifier, sqlString, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import type { StepContext } from './context.js';
import { pipelineLayout, runScratchPrefix } from './layout.js';
import { parseDetectPartition, shardOf } from './plan.js';
import { detectRecords, type RecordDetectionFacts, type RecordFinding, type RecordTable } from './record-detect.js';
import { detectSeries, type Finding, type SeriesTable } from './series-detect.js';

/** Output of one detect partition; its findings wait in the run's scratch folder for publish. */
export interface DetectOutput {
  findings: string;
  count: number;
  /** Entities a series detector could not model, with why. */
  skipped: { entity: string; reason: string }[];
  /** Days a series detector learnt from and the days it flagged. */
  window?: { from: string; to: string };
  /** A record detector's facts about its day (clusters, recall on labelled rows). */
  facts?: RecordDetectionFacts & { date: string };
}

export type AnyFinding = Finding | RecordFinding;

const DAY_MS = 86_400_000;

function daysBefore(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - days * DAY_MS).toISOString().slice(0, 10);
}

type SeriesStep = Extract<DetectStepConfig, { detector: 'arima' | 'iforest' }>;

/** An aggregate table's gold partitions from `from` to `to`, as series columns, for the entities of one shard. */
async function readSeriesTable(engine: Engine, context: StepContext, step: SeriesStep, from: string, to: string, shard: { index: number; count: number }): Promise<SeriesTable> {
  const keys = (await context.lake.list(`gold/${step.table}/`))
    .map((object) => object.key)
    .filter((key) => {
      const date = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
      return date !== undefined && date >= from && date <= to && key.endsWith('.parquet');
    });
  const valueColumns = step.detector === 'arima' ? [step.value] : step.features;
  const empty = { entity: [], day: [], values: Object.fromEntries(valueColumns.map((name) => [name, new Float64Array()])) };
  if (keys.length === 0) return empty;
  const paths = await engine.stage(context.lake, keys);
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
  const entities = columns.entity as string[];
  const rows = entities.map((_, row) => row).filter((row) => shard.count === 1 || shardOf(entities[row], shard.count) === shard.index);
  const day = columns.day as string[];
  return {
    entity: rows.map((row) => entities[row]),
    day: rows.map((row) => day[row]),
    values: Object.fromEntries(
      valueColumns.map((name, i) => {
        const values = columns[`v${i}`] as (number | null)[];
        return [name, Float64Array.from(rows, (row) => values[row] ?? Number.NaN)];
      }),
    ),
  };
}

type RecordStep = Extract<DetectStepConfig, { detector: 'dbscan' }>;

/** One day of the step's table (the dataset's silver rows or an aggregate's gold rows), sorted by id. */
async function readRecordTable(engine: Engine, context: StepContext, step: RecordStep, date: string): Promise<RecordTable> {
  const { pipeline } = context.params;
  const layout = pipelineLayout(context.run.pipeline, pipeline, date);
  const key = step.table === pipeline.dataset ? layout.silver : layout.aggregate(step.table);
  const [localPath] = await engine.stage(context.lake, [key]);
  const source = `read_parquet(${sqlString(localPath)})`;
  const present = new Set((await engine.rows<{ name: string }>(`SELECT name FROM parquet_schema(${sqlString(localPath)})`)).map((row) => row.name));
  const evaluate = step.evaluate !== undefined && present.has(step.evaluate.flag) ? step.evaluate : undefined;
  const kindSql = evaluate?.kind !== undefined && present.has(evaluate.kind) ? `coalesce(nullif(CAST(${sqlIdentifier(evaluate.kind)} AS VARCHAR), ''), 'injected')` : `'injected'`;
  let columns: Record<string, unknown[]>;
  try {
    columns = await engine.columns(`SELECT CAST(${sqlIdentifier(step.id)} AS VARCHAR) AS id,
        ${step.entity === undefined ? 'NULL' : `CAST(${sqlIdentifier(step.entity)} AS VARCHAR)`} AS entity,
        ${step.features.map((feature, f) => `CAST(${sqlIdentifier(feature.column)} AS DOUBLE) AS f${f}`).join(', ')}
        ${evaluate ? `, CASE WHEN TRY_CAST(${sqlIdentifier(evaluate.flag)} AS INTEGER) = 1 THEN ${kindSql} END AS labelled_kind` : ''}
      FROM ${source} ORDER BY id`);
  } catch (error) {
    throw new InputError(`detect step dbscan on ${step.table}: ${oneLine(error)}`, { cause: error });
  }
  return {
    ids: columns.id as string[],
    entities: columns.entity as (string | null)[],
    features: step.features.map((_, f) => Float64Array.from(columns[`f${f}`] as (number | null)[], (value) => value ?? Number.NaN)),
    labelledKinds: evaluate ? (columns.labelled_kind as (string | null)[]) : undefined,
  };
}

/**
 * Detect: one partition of one detect step. Series detectors (ARIMA, Isolation Forest) learn
 * from `history` days before the run's first date and flag the run's dates, per entity shard;
 * DBSCAN clusters one date of records. Findings go to the run's scratch folder for publish.
 */
export async function detectPartition(context: StepContext, label: string): Promise<DetectOutput> {
  const partition = parseDetectPartition(label);
  const step = context.params.pipeline.detect[partition.stepIndex];
  if (step === undefined || step.detector !== partition.detector) throw new InputError(`run ${context.run.id} has no detect partition ${label}`);
  const { logicalDate: first, endDate: last } = context.run;
  const engine = await openEngine();
  try {
    let output: Omit<DetectOutput, 'findings' | 'count'>;
    let findings: AnyFinding[];
    if (step.detector === 'dbscan') {
      const date = partition.date as string;
      const table = await readRecordTable(engine, context, step, date);
      const detection = detectRecords(step, table, date);
      findings = detection.findings;
      output = { skipped: [], facts: { ...detection.facts, date } };
    } else {
      const from = daysBefore(first, step.history);
      const table = await readSeriesTable(engine, context, step, from, last, partition.shard ?? { index: 0, count: 1 });
      const detection = detectSeries(step, table, { from: first, to: last, windowStart: from });
      findings = detection.findings;
      output = { skipped: detection.skipped, window: { from, to: last } };
    }
    const key = `${runScratchPrefix(context.run.pipeline, context.run.id)}detect/${label}.json`;
    await context.lake.put(key, JSON.stringify(findings));
    return { findings: key, count: findings.length, ...output };
  } finally {
    await engine.close();
  }
}
