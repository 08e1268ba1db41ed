import { z } from 'zod';
import { isRecordStep, scoredFeatures, type DetectStepConfig, type RecordStepConfig, type SeriesStepConfig } from '../../config/index.js';
import { addDays, dateRange } from '../../dates.js';
import { seriesParams } from '../../detectors/index.js';
import { openEngine, sqlIdentifier, type Engine } from '../../engine/index.js';
import { InputError, oneLine } from '../../errors.js';
import { findingsKey, type Lake } from '../../lake/index.js';
import { EntityShardSchema, partitionLabel, RecordDaySchema, type EntityShard, type RecordDay, type StepHandler } from '../contract.js';
import type { StepContext } from '../context.js';
import { pipelineLayout } from '../layout.js';
import { detectRecords, type InjectedEvaluation, type InjectedRecall, type RecordColumns, type RecordDetectionFacts, type RecordFinding, type RecordTable } from '../record-detect.js';
import { detectPatterns, detectRideTimes, rideColumnsOf, type RideColumn } from '../ride-detect.js';
import { detectSeries, detectWithModels, supportedRows, type Finding, type SeriesDetection } from '../series-detect.js';
import { detectArimaOnThreads } from '../series-threads.js';
import { loadModel, modelName, type LoadedModel } from '../models.js';
import { readEntityRows, type SeriesTable } from '../entity-rows.js';
import { LabelledIncidentsSchema, type LabelledIncidents } from '../labelled-incidents.js';
import { ForecastErrorSumsSchema, type ForecastErrorSums } from '../forecast-errors.js';
import { detectStreamShard } from '../stream-detect.js';

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
  /** A series detector's flags against labelled rows, per date. */
  labelled?: (LabelledIncidents & { date: string })[];
  /** A forecasting series detector's errors over every point of the run's dates (the monitor step's MAE and MAPE). */
  forecasts?: ForecastErrorSums[];
}

export type AnyFinding = Finding | RecordFinding;
export type DetectPartition = RecordDay | EntityShard;

const recall: z.ZodType<InjectedRecall> = z.object({ total: z.number(), flagged: z.number(), recall: z.number().nullable(), precision: z.number().nullable().optional() });
/** Precision and recall on labelled records, as detect partitions and summaries hold them. */
export const InjectedEvaluationSchema: z.ZodType<InjectedEvaluation> = z.intersection(recall, z.object({ false_alarms: z.number(), by_kind: z.record(z.string(), recall) }));
// Key order as the detectors write them: the day's summary shows these facts as they are.
export const RecordDetectionFactsSchema: z.ZodType<RecordDetectionFacts> = z.union([
  z.object({
    clusters: z.array(z.object({ cluster: z.number(), size: z.number(), centroid: z.record(z.string(), z.number()) })),
    outliers: z.number(),
    parameters: z.object({ eps: z.number(), min_samples: z.number(), scale: z.string(), features: z.array(z.string()) }),
    injected_anomalies: InjectedEvaluationSchema.optional(),
  }),
  z.object({
    flagged: z.number(),
    by_reason: z.object({ too_long: z.number(), too_short: z.number(), too_fast: z.number(), far_distance: z.number() }),
    fit: z.object({
      from: z.string(),
      to: z.string(),
      days: z.number(),
      rides: z.number(),
      by_day_of_week: z.boolean(),
      distance: z.object({ median: z.number(), flagged_above: z.number().nullable() }),
    }),
    parameters: z.object({ sigmas: z.number(), distance_sigmas: z.number(), min_support: z.number(), max_speed_kmh: z.number(), history: z.number() }),
    injected_anomalies: InjectedEvaluationSchema.optional(),
  }),
  z.object({
    flagged: z.number(),
    vehicles: z.array(
      z.object({ vehicle: z.string(), pattern: z.enum(['repeated', 'back_to_back', 'overlap']), count: z.number(), total: z.number(), expected: z.number(), score: z.number(), reason: z.string() }),
    ),
    fleet: z.object({ trips: z.number(), gaps: z.number(), back_to_back_share: z.number(), overlap_share: z.number(), overlaps_tested: z.boolean() }),
    parameters: z.object({ relative_tolerance: z.number(), min_repeats: z.number(), false_alarms: z.number(), back_to_back_minutes: z.number() }),
    injected_anomalies: InjectedEvaluationSchema.optional(),
  }),
]);
const nullableNumber = z.number().nullable();
/** A number that JSON wrote as null because it was NaN or infinite (a day with no cluster to compare with). */
const jsonNumber = nullableNumber.transform((value) => value ?? Number.NaN);
/** A finding as the findings file holds it. */
const FindingSchema: z.ZodType<AnyFinding> = z.union([
  z.object({
    detector: z.enum(['dbscan', 'conditional', 'pattern']),
    date: z.string(),
    id: z.string(),
    entity: z.string().nullable(),
    values: z.record(z.string(), jsonNumber),
    score: z.number(),
    reason: z.string(),
    expected: z.object({ feature: z.string(), value: jsonNumber, low: jsonNumber, high: jsonNumber }),
    labelledKind: z.string().nullable().optional(),
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
    support: z.object({ column: z.string(), records: z.number() }).optional(),
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
  labelled: z.array(z.intersection(LabelledIncidentsSchema, z.object({ date: z.string() }))).optional(),
  forecasts: z.array(ForecastErrorSumsSchema).optional(),
});

/** The columns a series step reads: its values, and its support column when it has one. */
function withSupportColumn(values: readonly string[], support: string | undefined): string[] {
  return support === undefined || values.includes(support) ? [...values] : [...values, support];
}

type ModelStep = Extract<DetectStepConfig, { detector: 'iforest' | 'autoencoder' }>;

/** An aggregate table's gold partitions from `from` to `to`, as series columns, for the entities of one shard. */
async function readSeriesTable(engine: Engine, context: StepContext, step: SeriesStepConfig, from: string, to: string, shard: EntityShard): Promise<SeriesTable> {
  const columns = withSupportColumn(step.detector === 'arima' ? [step.value] : step.features, step.support);
  return (await readEntityRows(engine, context, { ...step, columns }, { from, to }, { shard, what: `detect step ${step.detector}` })).table;
}

/**
 * Scores the run's dates with the model versions the run fixed when it started (see
 * resolveModelVersions): no history is read, nothing is fitted.
 */
async function detectWithRegisteredModels(engine: Engine, context: StepContext, shard: EntityShard, step: ModelStep): Promise<SeriesDetection> {
  const resolved = context.params.models?.[shard.detectStep] ?? { model: step.modelName ?? '(unresolved)', versions: {} };
  const { logicalDate: from, endDate: to } = context.run;
  // Isolation Forest steps may weigh days by a support column; the autoencoder scores every row.
  const scored = { detector: step.detector, features: scoredFeatures(step), model: resolved.model, ...(step.detector === 'iforest' ? { support: step.support, minSupport: step.minSupport } : {}) };
  const labels = step.detector === 'autoencoder' ? step.evaluate : undefined;
  const read = await readEntityRows(engine, context, { ...step, columns: withSupportColumn(scored.features, scored.support), labels }, { from, to }, { shard, what: `detect step ${step.detector}` });
  const { table, skipped } = supportedRows(scored, read.table);
  const records = new Map((await context.store.listModels({ name: resolved.model })).map((record) => [`${record.name}@${record.version}`, record]));
  const models = new Map<string, LoadedModel>();
  for (const entity of new Set(table.entity)) {
    const version = resolved.versions[entity];
    if (version === undefined) continue;
    const name = modelName(resolved.model, entity);
    const record = records.get(`${name}@${version}`);
    if (record === undefined) throw new InputError(`model ${name} v${version}, which run ${context.run.id} scores with, is not in the registry`);
    const loaded = await loadModel(context.lake, record);
    if (JSON.stringify(loaded.features) !== JSON.stringify(scored.features)) throw new InputError(`model ${name} v${version} was trained on ${loaded.features.join(', ')}, not ${scored.features.join(', ')}`);
    models.set(entity, loaded);
  }
  const wanted = step.model === 'production' ? 'production' : `v${step.model}`;
  const detection = detectWithModels(scored, table, models, {
    reason: (entity) => `${step.detector}: no ${wanted} model ${modelName(resolved.model, entity)} when the run started`,
    shallow: step.detector === 'autoencoder' && step.fallback === 'shallow',
  });
  return { ...detection, skipped: [...skipped, ...detection.skipped] };
}

/** The numbers a record step reads per record, as SQL over its table: DBSCAN's features, a ride detector's values. */
function recordColumnsSql(step: RecordStepConfig): { column: string; sql: string }[] {
  if (step.detector === 'dbscan') return step.features.map(({ column }) => ({ column, sql: `CAST(${sqlIdentifier(column)} AS DOUBLE)` }));
  const minutes = { min: '', s: ' / 60', h: ' * 60' }[step.duration.unit];
  const sqlOf = ({ column, role }: RideColumn): string => {
    const timestamp = `CAST(${sqlIdentifier(column)} AS TIMESTAMP)`;
    switch (role) {
      case 'distance':
      case 'duration':
        return `CAST(${sqlIdentifier(column)} AS DOUBLE)`;
      case 'hour_of_day':
        return `hour(${timestamp}) + minute(${timestamp}) / 60 + second(${timestamp}) / 3600`;
      case 'day_of_week':
        return `CAST(dayofweek(${timestamp}) AS DOUBLE)`;
      case 'start_min':
        return `epoch(${timestamp}) / 60`;
      case 'end_min':
        // Without a dropoff column, or where it is missing: the pickup plus the ride time.
        return `coalesce(epoch(${timestamp}) / 60, epoch(CAST(${sqlIdentifier(step.start)} AS TIMESTAMP)) / 60 + CAST(${sqlIdentifier(step.duration.column)} AS DOUBLE)${minutes})`;
    }
  };
  return rideColumnsOf(step).map((column) => ({ column: column.column, sql: `CAST(${sqlOf(column)} AS DOUBLE)` }));
}

/** The day's file of a record step's table (the dataset's silver or an aggregate's gold). */
function recordKey(context: StepContext, step: RecordStepConfig, date: string): string {
  const { pipeline } = context.params;
  const layout = pipelineLayout(context.run.pipeline, pipeline, date);
  return step.table === pipeline.dataset ? layout.silver : layout.aggregate(step.table);
}

/** A string column read as codes (null: -1) into its distinct values, numbered in the values' sort order. */
interface CodedStrings {
  codes: Float64Array;
  values: string[];
}

/** One day of a record step's table as read, sorted by id: its columns, labels, and each row's row in the day's file (by which its id is read). */
interface DayRows extends RecordColumns {
  fileRows: Float64Array;
  labelledKinds?: (string | null)[];
}

/**
 * One day of the step's table (the dataset's silver rows or an aggregate's gold rows), sorted by
 * id: the step's numbers as columns, entities, and labels when the step evaluates. Without
 * `labels` (history a model only learns from) labels are left out.
 *
 * Strings cost a JS value per cell: entities and labels come as codes into their few distinct
 * values, with the numbers; ids are read only for the rows that need them (see {@link readIds}).
 */
async function readDayRows(engine: Engine, context: StepContext, step: RecordStepConfig, date: string, options: { labels: boolean; numbers?: { sql: string }[] } = { labels: true }): Promise<DayRows> {
  const [localPath] = await engine.stage(context.lake, [recordKey(context, step, date)]);
  const present = new Set((await engine.rows<{ name: string }>(`SELECT name FROM parquet_schema($1)`, [localPath])).map((row) => row.name));
  const evaluate = options.labels && step.evaluate !== undefined && present.has(step.evaluate.flag) ? step.evaluate : undefined;
  const kindSql = evaluate?.kind !== undefined && present.has(evaluate.kind) ? `coalesce(nullif(CAST(${sqlIdentifier(evaluate.kind)} AS VARCHAR), ''), 'injected')` : `'injected'`;
  const strings = {
    entity: step.entity === undefined ? 'NULL' : `CAST(${sqlIdentifier(step.entity)} AS VARCHAR)`,
    labelled_kind: evaluate ? `CASE WHEN TRY_CAST(${sqlIdentifier(evaluate.flag)} AS INTEGER) = 1 THEN ${kindSql} END` : 'NULL',
  };
  const source = 'read_parquet($1, file_row_number = true)';
  const numbers = options.numbers ?? recordColumnsSql(step);
  let entities: CodedStrings;
  let labelledKinds: CodedStrings;
  let features: Float64Array[];
  let sortedFileRows: Float64Array;
  try {
    const values: Record<string, string[]> = {};
    for (const [name, sql] of Object.entries(strings)) {
      await engine.run(
        `CREATE OR REPLACE TABLE ${name}_values AS SELECT value, CAST(row_number() OVER (ORDER BY value) - 1 AS DOUBLE) AS code FROM (SELECT DISTINCT ${sql} AS value FROM ${source}) WHERE value IS NOT NULL`,
        [localPath],
      );
      values[name] = (await engine.columns(`SELECT value FROM ${name}_values ORDER BY code`)).value as string[];
    }
    // Rows in id order (file order among equal ids): cluster numbering and border points follow it.
    // The sort carries only each row's file row; the columns come unsorted, each row with its file
    // row, and are put in order here: cheaper than a sort that carries them all.
    [sortedFileRows] = await engine.numberColumns(`SELECT CAST(file_row_number AS DOUBLE) FROM ${source} ORDER BY ${idSqlOf(step)}, file_row_number`, [localPath]);
    const [fileRows, ...unsorted] = await engine.numberColumns(
      `SELECT CAST(file_rows.file_row_number AS DOUBLE), coalesce(entity_values.code, -1), coalesce(labelled_kind_values.code, -1), ${numbers.map((_, f) => `file_rows.f${f}`).join(', ')}
      FROM (SELECT file_row_number, ${Object.entries(strings).map(([name, sql]) => `${sql} AS ${name}`).join(', ')}, ${numbers.map(({ sql }, f) => `${sql} AS f${f}`).join(', ')} FROM ${source}) AS file_rows
        LEFT JOIN entity_values ON entity_values.value = file_rows.entity
        LEFT JOIN labelled_kind_values ON labelled_kind_values.value = file_rows.labelled_kind`,
      [localPath],
    );
    const [entityCodes, labelledKindCodes, ...numberColumns] = inFileRowOrder(unsorted, fileRows, sortedFileRows);
    features = numberColumns;
    entities = { codes: entityCodes, values: values.entity };
    labelledKinds = { codes: labelledKindCodes, values: values.labelled_kind };
  } catch (error) {
    throw new InputError(`detect step ${step.detector} on ${step.table}: ${oneLine(error)}`, { cause: error });
  }
  return {
    ...entitiesOf(entities),
    features,
    fileRows: sortedFileRows,
    labelledKinds: evaluate ? Array.from(labelledKinds.codes, (code) => (code < 0 ? null : labelledKinds.values[code])) : undefined,
  };
}

/** The step's id column as text, as rows are sorted and ids read. */
function idSqlOf(step: RecordStepConfig): string {
  return `CAST(${sqlIdentifier(step.id)} AS VARCHAR)`;
}

/**
 * `columns`, whose row j is file row `fileRows[j]`, reordered to the file rows `order` lists
 * (each file row once).
 */
function inFileRowOrder(columns: readonly Float64Array[], fileRows: Float64Array, order: Float64Array): Float64Array[] {
  if (fileRows.length !== order.length) throw new Error(`${order.length} rows sorted, ${fileRows.length} read`);
  const rowOfFileRow = new Int32Array(fileRows.length);
  for (let row = 0; row < fileRows.length; row++) rowOfFileRow[fileRows[row]] = row;
  const rows = new Int32Array(order.length);
  for (let k = 0; k < order.length; k++) rows[k] = rowOfFileRow[order[k]];
  return columns.map((column) => {
    const ordered = new Float64Array(rows.length);
    for (let k = 0; k < rows.length; k++) ordered[k] = column[rows[k]];
    return ordered;
  });
}

/** Each row's entity, and its entity as a dense code (null: -1) numbered in first-seen order, as {@link RecordTable} holds them. */
function entitiesOf({ codes, values }: CodedStrings): Pick<RecordColumns, 'entities' | 'entityCodes' | 'entityNames'> {
  const entities = new Array<string | null>(codes.length);
  const entityCodes = new Int32Array(codes.length);
  const entityNames: string[] = [];
  const firstSeen = new Int32Array(values.length).fill(-1);
  for (let row = 0; row < codes.length; row++) {
    const code = codes[row];
    if (code < 0) {
      entities[row] = null;
      entityCodes[row] = -1;
      continue;
    }
    if (firstSeen[code] < 0) firstSeen[code] = entityNames.push(values[code]) - 1;
    entities[row] = values[code];
    entityCodes[row] = firstSeen[code];
  }
  return { entities, entityCodes, entityNames };
}

/**
 * The days before `date` a conditional step learns from with it, oldest first: those of its
 * `history` whose table exists (a day never cleaned is left out).
 */
async function readHistory(engine: Engine, context: StepContext, step: Extract<DetectStepConfig, { detector: 'conditional' }>, date: string): Promise<{ tables: RecordColumns[]; from: string }> {
  const tables: RecordColumns[] = [];
  let from = date;
  if (step.history === 0) return { tables, from };
  for (const day of dateRange(addDays(date, -step.history), addDays(date, -1))) {
    if (!(await context.lake.exists(recordKey(context, step, day)))) continue;
    tables.push(await readDayRows(engine, context, step, day, { labels: false }));
    if (tables.length === 1) from = day;
  }
  return { tables, from };
}

/** A day's rows read once for every record step that reads them alike, until each of those steps took them. */
interface SharedDay {
  table: Promise<DayRows>;
  /** The SQL of each number the table holds, in column order. */
  numbers: string[];
  /** Detect steps (indices) that have not taken the table yet. */
  waiting: Set<number>;
}

/**
 * Days read for several record steps, by run, day file and how the rows are read. An entry goes once
 * every step took it; at most {@link SHARED_DAYS} stay (a step that runs on another process never
 * takes its share here).
 */
const sharedDays = new Map<string, SharedDay>();
const SHARED_DAYS = 2;

/** What makes two record steps read a day's rows alike: the table, ids, entities and labels. */
function rowReadOf(step: RecordStepConfig): string {
  return JSON.stringify([step.table, step.id, step.entity ?? null, step.evaluate ?? null]);
}

/**
 * One day of the step's table, as {@link readDayRows} reads it. The pipeline's record steps
 * that read the day's rows alike (typically DBSCAN, conditional and pattern over the rides) share
 * one read in this process: the first reads every number any of them needs, sorted once, and
 * each takes its own columns (kernels never write their inputs).
 */
async function readSharedRecordDay(engine: Engine, context: StepContext, step: RecordStepConfig, detectStep: number, date: string): Promise<DayRows> {
  const sharing = context.params.pipeline.detect.flatMap((other, index) => (isRecordStep(other) && rowReadOf(other) === rowReadOf(step) ? [{ index, step: other }] : []));
  if (sharing.length === 1) return readDayRows(engine, context, step, date);
  const key = JSON.stringify([context.run.id, recordKey(context, step, date), rowReadOf(step)]);
  let shared = sharedDays.get(key);
  if (shared === undefined) {
    const numbers = [...new Set(sharing.flatMap((other) => recordColumnsSql(other.step).map(({ sql }) => sql)))];
    shared = { table: readDayRows(engine, context, step, date, { labels: true, numbers: numbers.map((sql) => ({ sql })) }), numbers, waiting: new Set(sharing.map(({ index }) => index)) };
    for (const oldest of [...sharedDays.keys()].slice(0, Math.max(0, sharedDays.size - SHARED_DAYS + 1))) sharedDays.delete(oldest);
    sharedDays.set(key, shared);
    // A failed read is not shared: the step's retry reads again.
    shared.table.catch(() => sharedDays.delete(key));
  }
  shared.waiting.delete(detectStep);
  if (shared.waiting.size === 0) sharedDays.delete(key);
  const table = await shared.table;
  const { numbers } = shared;
  return { ...table, features: recordColumnsSql(step).map(({ sql }) => table.features[numbers.indexOf(sql)]) };
}

/** One day of a record step: its findings and what it tells about the day. */
async function detectRecordDay(engine: Engine, context: StepContext, step: RecordStepConfig, detectStep: number, date: string): Promise<{ findings: RecordFinding[]; facts: RecordDetectionFacts }> {
  const { fileRows, ...rows } = await readSharedRecordDay(engine, context, step, detectStep, date);
  // Ids through this step's own engine: the one that read a shared day may be closed by now.
  const table: RecordTable = { ...rows, idsOf: (wanted) => readIds(engine, context, step, date, Float64Array.from(wanted, (row) => fileRows[row])) };
  switch (step.detector) {
    case 'dbscan':
      return detectRecords(step, table, date);
    case 'conditional':
      return detectRideTimes(step, table, await readHistory(engine, context, step, date), date);
    case 'pattern':
      return detectPatterns(step, table, date);
  }
}

/**
 * The ids of the day's file rows `fileRows`, in that order: one scan of the id column that hands
 * JS only the rows asked for (a day's flagged rides, not its every ride).
 */
async function readIds(engine: Engine, context: StepContext, step: RecordStepConfig, date: string, fileRows: Float64Array): Promise<string[]> {
  if (fileRows.length === 0) return [];
  const [localPath] = await engine.stage(context.lake, [recordKey(context, step, date)]);
  const found = await engine.columns(
    `SELECT CAST(file_row_number AS DOUBLE) AS file_row, ${idSqlOf(step)} AS id FROM read_parquet($1, file_row_number = true) SEMI JOIN (SELECT unnest($2) AS wanted) ON file_row_number = wanted`,
    [localPath, fileRows],
  );
  const idOfFileRow = new Map((found.file_row as number[]).map((fileRow, k) => [fileRow, found.id[k] as string]));
  return Array.from(fileRows, (fileRow) => {
    const id = idOfFileRow.get(fileRow);
    if (id === undefined) throw new Error(`${recordKey(context, step, date)}: row ${fileRow} was read before but not now`);
    return id;
  });
}

/**
 * Detect: one partition of one detect step. Series detectors (ARIMA, Isolation Forest) learn
 * from `history` days before the run's first date and flag the run's dates, per entity shard, or
 * (Isolation Forest, autoencoder) score them with registered models; the streaming detector
 * continues each entity from its checkpoint of the day before; record detectors (DBSCAN,
 * conditional, pattern) take one date of records. Findings go to the run's scratch folder for publish.
 */
async function detectPartition(context: StepContext, partition: DetectPartition): Promise<DetectOutput> {
  const step = context.params.pipeline.detect[partition.detectStep];
  if (step === undefined || step.detector !== partition.detector) throw new InputError(`run ${context.run.id} has no detect partition ${partitionLabel(partition)}`);
  const { logicalDate: first, endDate: last } = context.run;
  const engine = await openEngine();
  try {
    let output: Omit<DetectOutput, 'findings' | 'count'>;
    let findings: AnyFinding[];
    if (isRecordStep(step)) {
      if (partition.kind !== 'record-day') throw new InputError(`${step.detector} runs a day at a time, not as ${partitionLabel(partition)}`);
      const detection = await detectRecordDay(engine, context, step, partition.detectStep, partition.date);
      findings = detection.findings;
      output = { skipped: [], facts: { ...detection.facts, date: partition.date } };
    } else if (step.detector === 'autoencoder' || (step.detector === 'iforest' && step.model !== undefined)) {
      if (partition.kind !== 'entity-shard') throw new InputError(`${step.detector} runs per entity shard, not as ${partitionLabel(partition)}`);
      const detection = await detectWithRegisteredModels(engine, context, partition, step);
      findings = detection.findings;
      const labelled = detection.labelled === undefined ? undefined : [...detection.labelled].map(([date, incidents]) => ({ date, ...incidents }));
      output = { skipped: detection.skipped, window: { from: first, to: last }, ...(labelled === undefined ? {} : { labelled }), forecasts: detection.forecasts ?? [] };
    } else if (step.detector === 'stream') {
      if (partition.kind !== 'entity-shard') throw new InputError(`${step.detector} runs per entity shard, not as ${partitionLabel(partition)}`);
      const detection = await detectStreamShard(engine, context, partition, step);
      findings = detection.findings;
      const labelled = detection.labelled === undefined ? undefined : [...detection.labelled].map(([date, incidents]) => ({ date, ...incidents }));
      output = { skipped: detection.skipped, window: { from: first, to: last }, ...(labelled === undefined ? {} : { labelled }), forecasts: detection.forecasts ?? [] };
    } else {
      if (partition.kind !== 'entity-shard') throw new InputError(`${step.detector} runs per entity shard, not as ${partitionLabel(partition)}`);
      const from = addDays(first, -step.history);
      const table = await readSeriesTable(engine, context, step, from, last, partition);
      const range = { from: first, to: last, windowStart: from };
      const detection = step.detector === 'arima' ? await detectArimaOnThreads(step, table, range) : detectSeries(step, table, range);
      findings = detection.findings;
      output = { skipped: detection.skipped, window: { from, to: last }, ...(detection.forecasts === undefined ? {} : { forecasts: detection.forecasts }) };
    }
    const key = findingsKey(context.run.pipeline, context.run.id, partitionLabel(partition));
    await context.lake.put(key, JSON.stringify(findings));
    return { findings: key, count: findings.length, ...output };
  } finally {
    await engine.close();
  }
}

/** Detect: record detectors a day per partition, ARIMA and the streaming detector in `partitions` entity shards, Isolation Forest and the autoencoder as one shard. */
export const detectStep: StepHandler<DetectPartition, DetectOutput> = {
  kind: 'detect',
  partition: z.discriminatedUnion('kind', [RecordDaySchema, EntityShardSchema]),
  output: DetectOutputSchema,
  plan: (pipeline, dates) =>
    pipeline.detect.flatMap((step, detectStep): DetectPartition[] => {
      if (isRecordStep(step)) return dates.map((date) => ({ kind: 'record-day', detectStep, detector: step.detector, date }));
      // Bad params of the streaming detector stop the run before any step, naming the field.
      if (step.detector === 'stream') seriesParams('stream', step.params);
      // Isolation Forest fits one model over all entities and cannot be split.
      const shards = step.detector === 'arima' || step.detector === 'stream' ? step.partitions : 1;
      return Array.from({ length: shards }, (_, shard) => ({ kind: 'entity-shard', detectStep, detector: step.detector, shard, shards }));
    }),
  run: detectPartition,
};
