import { z } from 'zod';
import type { DetectStepConfig } from '../../config/index.js';
import { addDays } from '../../dates.js';
import { openEngine, sqlIdentifier, type Engine } from '../../engine/index.js';
import { InputError, oneLine } from '../../errors.js';
import { findingsKey, type Lake } from '../../lake/index.js';
import { EntityShardSchema, partitionLabel, RecordDaySchema, type EntityShard, type RecordDay, type StepHandler } from '../contract.js';
import type { StepContext } from '../context.js';
import { pipelineLayout } from '../layout.js';
import { detectRecords, type RecordDetectionFacts, type RecordFinding, type RecordTable } from '../record-detect.js';
import { detectSeries, detectWithModels, type Finding, type SeriesDetection } from '../series-detect.js';
import { loadModel, modelName, type LoadedModel } from '../models.js';
import { inShard, readEntityRows, type SeriesTable } from '../entity-rows.js';

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
export type DetectPartition = RecordDay | EntityShard;

const recall = { total: z.number(), flagged: z.number(), recall: z.number().nullable() };
// Key order as detectRecords writes it: the day's summary shows these facts as they are.
export const RecordDetectionFactsSchema: z.ZodType<RecordDetectionFacts> = z.object({
  clusters: z.array(z.object({ cluster: z.number(), size: z.number(), centroid: z.record(z.string(), z.number()) })),
  outliers: z.number(),
  parameters: z.object({ eps: z.number(), min_samples: z.number(), scale: z.string(), features: z.array(z.string()) }),
  injected_anomalies: z.object({ ...recall, by_kind: z.record(z.string(), z.object(recall)) }).optional(),
});
const nullableNumber = z.number().nullable();
/** A number that JSON wrote as null because it was NaN or infinite (a day with no cluster to compare with). */
const jsonNumber = nullableNumber.transform((value) => value ?? Number.NaN);
/** A finding as the findings file holds it. */
const FindingSchema: z.ZodType<AnyFinding> = z.union([
  z.object({
    detector: z.literal('dbscan'),
    date: z.string(),
    id: z.string(),
    entity: z.string().nullable(),
    values: z.record(z.string(), jsonNumber),
    score: z.number(),
    reason: z.string(),
    expected: z.object({ feature: z.string(), value: jsonNumber, low: jsonNumber, high: jsonNumber }),
  }),
  z.object({
    detector: z.string(),
    entity: z.string(),
    date: z.string(),
    value: nullableNumber,
    expected: nullableNumber,
    lower: nullableNumber,
    upper: nullableNumber,
    score: z.number(),
    reason: z.string(),
    model: z.object({ name: z.string(), version: z.number() }).optional(),
  }),
]);

/** The findings a detect partition left in the lake, read back through their schema. */
export async function readFindings(lake: Lake, output: DetectOutput): Promise<AnyFinding[]> {
  return z.array(FindingSchema).parse(JSON.parse((await lake.get(output.findings)).toString()));
}
const DetectOutputSchema: z.ZodType<DetectOutput> = z.object({
  findings: z.string(),
  count: z.number(),
  skipped: z.array(z.object({ entity: z.string(), reason: z.string() })),
  window: z.object({ from: z.string(), to: z.string() }).optional(),
  facts: z.intersection(RecordDetectionFactsSchema, z.object({ date: z.string() })).optional(),
});

type SeriesStep = Extract<DetectStepConfig, { detector: 'arima' | 'iforest' }>;
type RecordStep = Extract<DetectStepConfig, { detector: 'dbscan' }>;

/** An aggregate table's gold partitions from `from` to `to`, as series columns, for the entities of one shard. */
async function readSeriesTable(engine: Engine, context: StepContext, step: SeriesStep, from: string, to: string, shard: EntityShard): Promise<SeriesTable> {
  const columns = step.detector === 'arima' ? [step.value] : step.features;
  return (await readEntityRows(engine, context, { ...step, columns }, { from, to }, { include: inShard(shard), what: `detect step ${step.detector}` })).table;
}

/**
 * Scores the run's dates with the model versions the run fixed when it started (see
 * resolveModelVersions): no history is read, nothing is fitted.
 */
async function detectWithRegisteredModels(engine: Engine, context: StepContext, shard: EntityShard, step: Extract<DetectStepConfig, { detector: 'iforest' }>): Promise<SeriesDetection> {
  const resolved = context.params.models?.[shard.detectStep] ?? { model: step.modelName ?? '(unresolved)', versions: {} };
  const { logicalDate: from, endDate: to } = context.run;
  const { table } = await readEntityRows(engine, context, { ...step, columns: step.features }, { from, to }, { include: inShard(shard), what: `detect step ${step.detector}` });
  const records = new Map((await context.store.listModels({ name: resolved.model })).map((record) => [`${record.name}@${record.version}`, record]));
  const models = new Map<string, LoadedModel>();
  for (const entity of new Set(table.entity)) {
    const version = resolved.versions[entity];
    if (version === undefined) continue;
    const name = modelName(resolved.model, entity);
    const record = records.get(`${name}@${version}`);
    if (record === undefined) throw new InputError(`model ${name} v${version}, which run ${context.run.id} scores with, is not in the registry`);
    const loaded = await loadModel(context.lake, record);
    if (JSON.stringify(loaded.features) !== JSON.stringify(step.features)) throw new InputError(`model ${name} v${version} was trained on ${loaded.features.join(', ')}, not ${step.features.join(', ')}`);
    models.set(entity, loaded);
  }
  const wanted = step.model === 'production' ? 'production' : `v${step.model}`;
  return detectWithModels(step, table, models, (entity) => `${step.detector}: no ${wanted} model ${modelName(resolved.model, entity)} when the run started`);
}

/**
 * One day of the step's table (the dataset's silver rows or an aggregate's gold rows), sorted by
 * id. Features and ids are read for every row; labels only for the rows labelled, and entities
 * only when asked for (the outliers'), through each row's number in the file.
 */
async function readRecordTable(engine: Engine, context: StepContext, step: RecordStep, date: string): Promise<RecordTable> {
  const { pipeline } = context.params;
  const layout = pipelineLayout(context.run.pipeline, pipeline, date);
  const key = step.table === pipeline.dataset ? layout.silver : layout.aggregate(step.table);
  const [localPath] = await engine.stage(context.lake, [key]);
  const present = new Set((await engine.rows<{ name: string }>(`SELECT name FROM parquet_schema($1)`, [localPath])).map((row) => row.name));
  const evaluate = step.evaluate !== undefined && present.has(step.evaluate.flag) ? step.evaluate : undefined;
  const kindSql = evaluate?.kind !== undefined && present.has(evaluate.kind) ? `coalesce(nullif(CAST(${sqlIdentifier(evaluate.kind)} AS VARCHAR), ''), 'injected')` : `'injected'`;
  // Rows in id order (file order among equal ids): cluster numbering and border points follow it.
  const order = `ORDER BY CAST(${sqlIdentifier(step.id)} AS VARCHAR), file_row_number`;
  const source = 'read_parquet($1, file_row_number = true)';
  const fileRowsNeeded = step.entity !== undefined || evaluate !== undefined;
  const failed = (error: unknown) => new InputError(`detect step dbscan on ${step.table}: ${oneLine(error)}`, { cause: error });
  let columns: Record<string, unknown[]>;
  let ids: string[];
  let labelledKinds: Map<number, string> | undefined;
  try {
    columns = await engine.columns(
      `SELECT ${step.features.map((feature, f) => `CAST(${sqlIdentifier(feature.column)} AS DOUBLE) AS f${f}`).join(', ')}
        ${fileRowsNeeded ? ', CAST(file_row_number AS INTEGER) AS file_row' : ''}
      FROM ${source} ${order}`,
      [localPath],
    );
    ids = await readIds(engine, `CAST(${sqlIdentifier(step.id)} AS VARCHAR)`, order, localPath, columns.f0.length);
    if (evaluate) {
      const labelled = await engine.columns(
        `SELECT CAST(file_row_number AS INTEGER) AS file_row, ${kindSql} AS kind FROM ${source} WHERE TRY_CAST(${sqlIdentifier(evaluate.flag)} AS INTEGER) = 1`,
        [localPath],
      );
      const rowOf = rowsByFileRow(columns.file_row as number[]);
      labelledKinds = new Map((labelled.file_row as number[]).map((fileRow, k) => [rowOf[fileRow], labelled.kind[k] as string]));
    }
  } catch (error) {
    throw failed(error);
  }
  const fileRows = columns.file_row as number[] | undefined;
  return {
    ids,
    features: step.features.map((_, f) => numbersWithNaN(columns[`f${f}`] as (number | null)[])),
    labelledKinds,
    async entitiesOf(rows) {
      if (step.entity === undefined || fileRows === undefined || rows.length === 0) return rows.map(() => null);
      const wanted = rows.map((row) => String(fileRows[row]));
      try {
        const found = await engine.columns(
          `SELECT CAST(file_row_number AS INTEGER) AS file_row, CAST(${sqlIdentifier(step.entity)} AS VARCHAR) AS entity
          FROM ${source} WHERE file_row_number IN (SELECT CAST(unnest($2) AS BIGINT))`,
          [localPath, wanted],
        );
        const entityOf = new Map((found.file_row as number[]).map((fileRow, k) => [fileRow, found.entity[k] as string | null]));
        return rows.map((row) => entityOf.get(fileRows[row]) ?? null);
      } catch (error) {
        throw failed(error);
      }
    },
  };
}

/** The values as a Float64Array, NULL as NaN; without NULLs, copied natively (a callback per value is slow on a first run). */
function numbersWithNaN(values: (number | null)[]): Float64Array {
  return values.includes(null) ? Float64Array.from(values, (value) => value ?? Number.NaN) : Float64Array.from(values as number[]);
}

/** Position (in id order) of each file row, from the file row of each position. */
function rowsByFileRow(fileRows: readonly number[]): Int32Array {
  const rowOf = new Int32Array(fileRows.length);
  fileRows.forEach((fileRow, row) => (rowOf[fileRow] = row));
  return rowOf;
}

/**
 * The ids (`idSql` over the day's file) in `order`. Handing DuckDB's strings to JS one by one costs
 * more than clustering a day of rides, so they come as one newline-joined string, split in JS;
 * when ids contain newlines themselves (the split then miscounts) they are read one by one.
 */
async function readIds(engine: Engine, idSql: string, order: string, localPath: string, rows: number): Promise<string[]> {
  const source = 'read_parquet($1, file_row_number = true)';
  const [{ joined }] = await engine.rows<{ joined: string | null }>(`SELECT string_agg(coalesce(${idSql}, ''), chr(10) ${order}) AS joined FROM ${source}`, [localPath]);
  const ids = rows === 0 ? [] : (joined ?? '').split('\n');
  if (ids.length === rows) return ids;
  return (await engine.columns(`SELECT ${idSql} AS id FROM ${source} ${order}`, [localPath])).id as string[];
}

/**
 * Detect: one partition of one detect step. Series detectors (ARIMA, Isolation Forest) learn
 * from `history` days before the run's first date and flag the run's dates, per entity shard;
 * DBSCAN clusters one date of records. Findings go to the run's scratch folder for publish.
 */
async function detectPartition(context: StepContext, partition: DetectPartition): Promise<DetectOutput> {
  const step = context.params.pipeline.detect[partition.detectStep];
  if (step === undefined || step.detector !== partition.detector) throw new InputError(`run ${context.run.id} has no detect partition ${partitionLabel(partition)}`);
  const { logicalDate: first, endDate: last } = context.run;
  const engine = await openEngine();
  try {
    let output: Omit<DetectOutput, 'findings' | 'count'>;
    let findings: AnyFinding[];
    if (step.detector === 'dbscan') {
      if (partition.kind !== 'record-day') throw new InputError(`dbscan runs a day at a time, not as ${partitionLabel(partition)}`);
      const table = await readRecordTable(engine, context, step, partition.date);
      const detection = await detectRecords(step, table, partition.date);
      findings = detection.findings;
      output = { skipped: [], facts: { ...detection.facts, date: partition.date } };
    } else if (step.detector === 'iforest' && step.model !== undefined) {
      if (partition.kind !== 'entity-shard') throw new InputError(`${step.detector} runs per entity shard, not as ${partitionLabel(partition)}`);
      const detection = await detectWithRegisteredModels(engine, context, partition, step);
      findings = detection.findings;
      output = { skipped: detection.skipped, window: { from: first, to: last } };
    } else {
      if (partition.kind !== 'entity-shard') throw new InputError(`${step.detector} runs per entity shard, not as ${partitionLabel(partition)}`);
      const from = addDays(first, -step.history);
      const table = await readSeriesTable(engine, context, step, from, last, partition);
      const detection = detectSeries(step, table, { from: first, to: last, windowStart: from });
      findings = detection.findings;
      output = { skipped: detection.skipped, window: { from, to: last } };
    }
    const key = findingsKey(context.run.pipeline, context.run.id, partitionLabel(partition));
    await context.lake.put(key, JSON.stringify(findings));
    return { findings: key, count: findings.length, ...output };
  } finally {
    await engine.close();
  }
}

/** Detect: DBSCAN a day per partition, ARIMA in `partitions` entity shards, Isolation Forest as one shard. */
export const detectStep: StepHandler<DetectPartition, DetectOutput> = {
  kind: 'detect',
  partition: z.discriminatedUnion('kind', [RecordDaySchema, EntityShardSchema]),
  output: DetectOutputSchema,
  plan: (pipeline, dates) =>
    pipeline.detect.flatMap((step, detectStep): DetectPartition[] => {
      if (step.detector === 'dbscan') return dates.map((date) => ({ kind: 'record-day', detectStep, detector: step.detector, date }));
      // Isolation Forest fits one model over all entities and cannot be split.
      const shards = step.detector === 'arima' ? step.partitions : 1;
      return Array.from({ length: shards }, (_, shard) => ({ kind: 'entity-shard', detectStep, detector: step.detector, shard, shards }));
    }),
  run: detectPartition,
};
