import type { DatasetConfig } from '../../config/index.js';
import { openEngine, readInputTable, type Engine } from '../../engine/index.js';
import { InputError, TransientError } from '../../errors.js';
import type { Lake, LakeObject } from '../../lake/index.js';
import { validateRows, type RowRules, type TypedColumn, type ValidationResult } from '../../quality/index.js';
import type { CleanedDate, PerDate, StepContext } from '../context.js';
import { forEachAtOnce } from '../at-once.js';
import { fingerprintInputs, listInput } from '../inputs.js';
import { pipelineLayout } from '../layout.js';
import { z } from 'zod';
import { DateSpanSchema, type DateSpan, type StepHandler } from '../contract.js';
import { datesOf, perDateSchema, planDateSpans } from './dates.js';

/** A message built from data, capped at 300 characters (as the reader caps its own). */
function capMessage(text: string): string {
  return text.length <= 300 ? text : `${text.slice(0, 299)}…`;
}

/** The raw (input) name of a dataset column. */
function rawName(dataset: DatasetConfig, name: string): string {
  return dataset.columns[name].from ?? name;
}

/** Row rules from a dataset's typed schema, on raw column names, for the columns the input has. */
function rowRulesOf(dataset: DatasetConfig, present: Set<string>): RowRules {
  const raw = (name: string) => rawName(dataset, name);
  const columns = Object.entries(dataset.columns).filter(([name]) => present.has(raw(name)));
  return {
    idColumn: dataset.key === undefined ? undefined : raw(dataset.key),
    requiredColumns: columns.filter(([, column]) => column.type === 'string' && column.required).map(([name]) => raw(name)),
    optionalColumns: columns.filter(([, column]) => !column.required).map(([name]) => raw(name)),
    numericColumns: columns.filter(([, column]) => column.type === 'number').map(([name, column]) => ({ name: raw(name), min: column.min, values: column.values })),
    timestampColumns: columns.filter(([, column]) => column.type === 'timestamp').map(([name]) => raw(name)),
    orderedTimestamps: columns
      .filter(([, column]) => column.notBefore !== undefined && present.has(raw(column.notBefore)))
      .map(([name, column]) => [raw(column.notBefore as string), raw(name)] as const),
    // The first timestamp column dates a row: a row of another day is counted as a warning.
    eventTimeColumn: columns.filter(([, column]) => column.type === 'timestamp').map(([name]) => raw(name))[0],
  };
}

/**
 * Writes the rejected records of one partition (an input folder such as `bronze/rides/date=D/`)
 * to `key`, or deletes `key` when there are none, so a clean rerun leaves no earlier rejects behind.
 */
async function writeQuarantine(engine: Engine, lake: Lake, validation: ValidationResult, partition: string, key: string): Promise<string | null> {
  if ((validation.partitions[partition]?.rowsQuarantined ?? 0) === 0) {
    await lake.delete(key);
    return null;
  }
  const rejected = validation.rejectedRows(partition);
  requireCounted(await engine.exportQuery(rejected.sql, lake, key, 'parquet', rejected.params), validation.partitions[partition].rowsQuarantined, key);
  return key;
}

/**
 * Fails (to be read again, checked: see cleanChunk) when a file wrote other rows than were
 * counted: trusted Parquet is read once per query, and a damaged file can read differently twice.
 */
function requireCounted(written: number, counted: number, key: string): void {
  if (written !== counted) throw new Error(`${key}: ${written} rows written where ${counted} were counted; the input reads differently from one query to the next`);
}

/** A cleaned date but for its input's fingerprint, which is taken alongside. */
type CleanedRows = Omit<CleanedDate, 'input'>;

/**
 * Validates every file of the chunk together, then writes each date's rejects to
 * quarantine with their reasons and its typed, renamed rows to silver. Parquet files are trusted
 * at first (decoding each in full beforehand would read them twice); when any of that fails for a
 * reason but bad input or a lake outage (rows written that were not those counted included), it is all done again
 * with each Parquet file checked and copied first, so that a corrupt one is quarantined alone and
 * the others proceed (the keys written are the same).
 */
async function cleanChunk(engine: Engine, context: StepContext, dates: string[], objects: LakeObject[][]): Promise<Record<string, CleanedRows>> {
  const { lake, run, params } = context;
  const { pipeline, dataset } = params;
  // Schema columns only, in schema order, under their own names; an optional column the input lacks is a typed NULL.
  const silverColumns: TypedColumn[] = Object.entries(dataset.columns).map(([name, column]) => ({ name, from: rawName(dataset, name), type: column.type }));
  const clean = async (checkParquet: boolean) => {
    const input = await readInputTable(engine, lake, objects.flat(), {
      table: 'raw',
      format: dataset.format,
      requiredColumns: Object.entries(dataset.columns).filter(([, column]) => column.required).map(([name]) => rawName(dataset, name)),
      checkParquet,
    });
    const validation = await validateRows(engine, input, rowRulesOf(dataset, new Set(input.columns.map((column) => column.name))));
    const cleaned: Record<string, CleanedRows> = {};
    const countsOf = (date: string) => validation.partitions[pipelineLayout(run.pipeline, pipeline, date).input] ?? { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {} };
    // A date with no row, or none valid, fails the chunk: the dates before it are written, and its quarantine.
    const unusable = dates.findIndex((date) => countsOf(date).rowsValid === 0);
    // Two dates at a time: one date's COPY runs in DuckDB while the other's file goes to the lake.
    await forEachAtOnce(unusable < 0 ? dates : dates.slice(0, unusable), 2, async (date) => {
      const layout = pipelineLayout(run.pipeline, pipeline, date);
      const counts = countsOf(date);
      const quarantine = await writeQuarantine(engine, lake, validation, layout.input, layout.quarantine);
      const silver = validation.validRows(layout.input, silverColumns);
      requireCounted(await engine.exportQuery(silver.sql, lake, layout.silver, 'parquet', silver.params), counts.rowsValid, layout.silver);
      cleaned[date] = {
        rows_read: counts.rowsRead,
        rows_valid: counts.rowsValid,
        rows_quarantined: counts.rowsQuarantined,
        quarantine_reasons: counts.reasonCounts,
        ...(counts.warnCounts === undefined ? {} : { row_warnings: counts.warnCounts }),
        quarantine,
        silver: layout.silver,
      };
    });
    if (unusable >= 0) {
      const layout = pipelineLayout(run.pipeline, pipeline, dates[unusable]);
      const counts = countsOf(dates[unusable]);
      await writeQuarantine(engine, lake, validation, layout.input, layout.quarantine);
      if (counts.rowsRead === 0) {
        throw new InputError(`${layout.input} has no rows: its files hold a header only (nothing was quarantined or published)`);
      }
      // A corrupt file is named with its reason; the message stays one short line whatever the data holds.
      const corrupt = input.corruptFiles.find((file) => input.files[file.file].partition === layout.input);
      const why = corrupt === undefined ? Object.keys(counts.reasonCounts).slice(0, 3).join(', ') : `corrupt file: ${corrupt.reason}`;
      throw new InputError(capMessage(`all ${counts.rowsRead} rows of ${layout.input} were quarantined (${why}); see ${layout.quarantine}`));
    }
    return cleaned;
  };
  try {
    return await clean(false);
  } catch (error) {
    // A lake outage is the step's to retry (and count), not a reason to read the input again.
    if (error instanceof InputError || error instanceof TransientError) throw error;
    return clean(true);
  }
}

/**
 * Clean: every date's bronze files are validated together (Parquet in its own types,
 * CSV as text); per date, rejects go to quarantine with their reasons and the typed, renamed rows
 * to silver Parquet, both read straight from the input. A corrupt file (gzip failing its CRC or
 * length, Parquet that does not decode) is one quarantine record, `corrupt file`, and publishes
 * nothing. A date with no input or no valid row fails the step with an InputError (not retried).
 */
async function cleanDates(context: StepContext, dates: string[]): Promise<PerDate<CleanedDate>> {
  const { lake, run, params } = context;
  const { pipeline } = params;
  const engine = await openEngine();
  try {
    // Listed at once (each listing of a remote lake is a round trip); a missing date fails as the first in date order.
    const listed = await Promise.allSettled(dates.map((date) => listInput(lake, pipelineLayout(run.pipeline, pipeline, date).input, pipeline.dataset)));
    const objects = listed.map((listing) => {
      if (listing.status === 'rejected') throw listing.reason;
      return listing.value;
    });
    // Staged once, so that hashing (in JS) and reading (in DuckDB's threads) overlap on the same copies.
    await engine.stage(lake, objects.flat().map((object) => object.key));
    const [fingerprinted, cleaned] = await Promise.allSettled([
      Promise.all(objects.map((dateObjects) => fingerprintInputs(engine, lake, dateObjects))),
      cleanChunk(engine, context, dates, objects),
    ]);
    if (cleaned.status === 'rejected') throw cleaned.reason;
    if (fingerprinted.status === 'rejected') throw fingerprinted.reason;
    return { dates: Object.fromEntries(dates.map((date, index) => [date, { ...cleaned.value[date], input: fingerprinted.value[index] }])) };
  } finally {
    await engine.close();
  }
}

export const InputFingerprintSchema: z.ZodType<CleanedDate['input']> = z.object({
  files: z.array(z.object({ key: z.string(), size: z.number(), sha256: z.string() })),
  sha256: z.string(),
});

export const CleanedDateSchema: z.ZodType<CleanedDate> = z.object({
  rows_read: z.number(),
  rows_valid: z.number(),
  rows_quarantined: z.number(),
  quarantine_reasons: z.record(z.string(), z.number()),
  row_warnings: z.record(z.string(), z.number()).optional(),
  quarantine: z.string().nullable(),
  silver: z.string(),
  input: InputFingerprintSchema,
});

/** Clean: a span of dates' bronze files → typed silver and quarantine (see cleanDates). */
export const cleanStep: StepHandler<DateSpan, PerDate<CleanedDate>> = {
  kind: 'clean',
  partition: DateSpanSchema,
  output: perDateSchema(CleanedDateSchema),
  plan: planDateSpans,
  run: (context, span) => cleanDates(context, datesOf(span)),
};
