import { sqlIdentifier, type Engine, type Row } from '../engine/index.js';
import { QualityGateError } from '../errors.js';

/** `fail` stops the run before anything is published; `warn` is only reported. */
export type Severity = 'warn' | 'fail';

/** Dataset-level expectations, after Great Expectations' most used ones. */
export type Expectation = { severity: Severity } & (
  | { type: 'not_null'; column: string }
  | { type: 'between'; column: string; min?: number; max?: number }
  | { type: 'in_set'; column: string; values: (string | number)[] }
  | { type: 'unique'; column: string }
  | { type: 'row_count_between'; min?: number; max?: number }
  /** The newest `column` value is at most `maxAgeHours` before the end of the logical date. */
  | { type: 'freshness'; column: string; maxAgeHours: number }
  | { type: 'mean_between'; column: string; min?: number; max?: number }
);

export interface ExpectationResult {
  /** Human-readable statement, e.g. `ride_time_min between 0 and 600`. */
  expectation: string;
  type: Expectation['type'];
  column: string | null;
  severity: Severity;
  passed: boolean;
  /** What was measured: failing row count, row count, mean, or age in hours. */
  observed: number | null;
  /** Rows that break a row-level expectation (null for dataset-level ones). */
  failingRows: number | null;
  /** Up to `sampleSize` failing rows, for a first look. */
  sample: Row[];
}

export interface QualityReport {
  dataset: string;
  logicalDate: string;
  rows: number;
  /** False when any `fail` expectation failed. */
  passed: boolean;
  results: ExpectationResult[];
}

function range(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return `at least ${min}`;
  return `at most ${max}`;
}

/**
 * Rows of several logical dates read together, e.g. a span's silver files in one scan: the FROM
 * item, which date each row is of, and the order a date's rows are sampled in.
 *
 * @example
 * // One table of one date: every row is of date 0, sampled in insertion order.
 * const rows: DatedRows = { from: 'trips', dateIndexSql: '0', rowOrderSql: 'rowid' };
 */
export interface DatedRows {
  /** FROM item: a table, a view or a table function such as `read_parquet(...)`. */
  from: string;
  /** SQL of a row's date: its 0-based index into the logical dates checked. */
  dateIndexSql: string;
  /** SQL ordering a date's rows: failing rows are sampled first to last. */
  rowOrderSql: string;
}

/** An expectation as SQL over {@link DatedRows}, its values bound through one shared list. */
type Plan = { statement(logicalDate: string): string } & (
  /** Row-level: SQL condition a failing row meets. */
  | { failingRowSql: string }
  /** Dataset-level: an aggregate of one number per date (`whenEmpty` for a date without rows), and whether it passes. */
  | { observedSql: string; whenEmpty: number | null; passes: (observed: number | null) => boolean }
);

function plan(expectation: Expectation, rows: DatedRows, bind: (value: string | number | readonly string[]) => string, logicalDates: readonly string[]): Plan {
  const rangeSql = (valueSql: string, min: number | undefined, max: number | undefined) =>
    [min !== undefined ? `${valueSql} >= ${bind(min)}` : undefined, max !== undefined ? `${valueSql} <= ${bind(max)}` : undefined].filter(Boolean).join(' AND ') || 'TRUE';
  const inRange = (min: number | undefined, max: number | undefined) => (value: number | null) =>
    value !== null && (min === undefined || value >= min) && (max === undefined || value <= max);
  switch (expectation.type) {
    case 'not_null': {
      const column = sqlIdentifier(expectation.column);
      return { statement: () => `${expectation.column} is not null`, failingRowSql: `${column} IS NULL` };
    }
    case 'between': {
      const column = sqlIdentifier(expectation.column);
      return {
        statement: () => `${expectation.column} ${range(expectation.min, expectation.max)}`,
        failingRowSql: `${column} IS NOT NULL AND NOT (${rangeSql(column, expectation.min, expectation.max)})`,
      };
    }
    case 'in_set': {
      const column = sqlIdentifier(expectation.column);
      return {
        statement: () => `${expectation.column} in {${expectation.values.join(', ')}}`,
        failingRowSql: `${column} IS NOT NULL AND ${column} NOT IN (${expectation.values.map(bind).join(', ')})`,
      };
    }
    case 'unique': {
      const column = sqlIdentifier(expectation.column);
      // Unique within each date, as when every date was checked alone.
      return {
        statement: () => `${expectation.column} is unique`,
        failingRowSql: `(${rows.dateIndexSql}, ${column}) IN (SELECT ${rows.dateIndexSql}, ${column} FROM ${rows.from} WHERE ${column} IS NOT NULL GROUP BY ALL HAVING count(*) > 1)`,
      };
    }
    case 'row_count_between':
      return { statement: () => `row count ${range(expectation.min, expectation.max)}`, observedSql: 'count(*)', whenEmpty: 0, passes: inRange(expectation.min, expectation.max) };
    case 'mean_between':
      return {
        statement: () => `mean of ${expectation.column} ${range(expectation.min, expectation.max)}`,
        observedSql: `avg(${sqlIdentifier(expectation.column)})`,
        whenEmpty: null,
        passes: inRange(expectation.min, expectation.max),
      };
    case 'freshness':
      return {
        statement: (logicalDate) => `newest ${expectation.column} at most ${expectation.maxAgeHours} h before the end of ${logicalDate}`,
        // Age of the newest value relative to midnight after the row's logical date, in hours.
        observedSql: `date_diff('second', max(CAST(${sqlIdentifier(expectation.column)} AS TIMESTAMP)), CAST(${bind(logicalDates)}[CAST(${rows.dateIndexSql} AS BIGINT) + 1] AS TIMESTAMP) + INTERVAL 1 DAY) / 3600.0`,
        whenEmpty: null,
        passes: (ageHours) => ageHours !== null && ageHours <= expectation.maxAgeHours,
      };
  }
}

/** Collects a statement's bound values; `bind` returns the placeholder of a value. */
function parameters(): { params: (string | number | readonly string[])[]; bind(value: string | number | readonly string[]): string } {
  const params: (string | number | readonly string[])[] = [];
  return { params, bind: (value) => `$${params.push(value)}` };
}

const asNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));

/**
 * Evaluates expectations on the rows of several logical dates at once, in SQL: one scan gives
 * every date its row count, the failing rows of every row-level expectation and the number of
 * every dataset-level one; one more query per row-level expectation that failed somewhere samples
 * its failing rows. Returns one report per date, in `logicalDates` order, each as if that date's
 * rows had been checked alone. Never throws for failed expectations: the report says what passed;
 * {@link assertQualityGate} turns a failed `fail` into an error.
 */
export async function checkExpectations(
  engine: Engine,
  rows: DatedRows,
  expectations: readonly Expectation[],
  context: { dataset: string; logicalDates: readonly string[]; sampleSize?: number },
): Promise<QualityReport[]> {
  const { logicalDates } = context;
  const sampleSize = context.sampleSize ?? 5;
  const { params, bind } = parameters();
  const plans = expectations.map((expectation) => plan(expectation, rows, bind, logicalDates));
  const measures = plans.map((planned, k) => `${'failingRowSql' in planned ? `count(*) FILTER (WHERE ${planned.failingRowSql})` : planned.observedSql} AS m${k}`);
  const perDate = await engine.rows(`SELECT CAST(${rows.dateIndexSql} AS BIGINT) AS date_index, count(*) AS date_rows${measures.map((sql) => `, ${sql}`).join('')} FROM ${rows.from} GROUP BY 1`, params);
  const measured = new Map(perDate.map((row) => [Number(row.date_index), row]));
  const failingRowsOf = (k: number, date: number) => asNumber(measured.get(date)?.[`m${k}`]) ?? 0;

  // Per expectation, per date: up to `sampleSize` failing rows.
  const samples: Row[][][] = [];
  for (const [k, expectation] of expectations.entries()) {
    const failingByDate = logicalDates.map((_, date) => failingRowsOf(k, date));
    // Planned again for a statement of its own, which binds only its own values.
    const own = parameters();
    const planned = plan(expectation, rows, own.bind, logicalDates);
    if (!('failingRowSql' in planned) || failingByDate.every((failing) => failing === 0)) {
      samples.push(logicalDates.map(() => []));
      continue;
    }
    // The first failing rows of each date, dates in order: split by their counts, as no column may name the date.
    const sampled = await engine.rows(
      `SELECT * FROM ${rows.from} WHERE ${planned.failingRowSql}
      QUALIFY row_number() OVER (PARTITION BY ${rows.dateIndexSql} ORDER BY ${rows.rowOrderSql}) <= ${own.bind(sampleSize)}
      ORDER BY CAST(${rows.dateIndexSql} AS BIGINT), ${rows.rowOrderSql}`,
      own.params,
    );
    let next = 0;
    samples.push(failingByDate.map((failing) => sampled.slice(next, (next += Math.min(failing, sampleSize)))));
  }

  return logicalDates.map((logicalDate, date) => {
    const row = measured.get(date);
    const results = expectations.map((expectation, k): ExpectationResult => {
      const planned = plans[k];
      const base = { expectation: planned.statement(logicalDate), type: expectation.type, column: 'column' in expectation ? expectation.column : null, severity: expectation.severity };
      if ('failingRowSql' in planned) {
        const failingRows = failingRowsOf(k, date);
        return { ...base, passed: failingRows === 0, observed: failingRows, failingRows, sample: samples[k][date] };
      }
      const observed = row === undefined ? planned.whenEmpty : asNumber(row[`m${k}`]);
      return { ...base, passed: planned.passes(observed), observed, failingRows: null, sample: [] };
    });
    const passed = results.every((result) => result.passed || result.severity === 'warn');
    return { dataset: context.dataset, logicalDate, rows: asNumber(row?.date_rows) ?? 0, passed, results };
  });
}

/** Throws QualityGateError naming every failed `fail` expectation, in one line. */
export function assertQualityGate(report: QualityReport, reportLocation: string): void {
  const failed = report.results.filter((result) => !result.passed && result.severity === 'fail');
  if (failed.length === 0) return;
  const details = failed.map((result) => `${result.expectation} (observed ${result.observed ?? 'nothing'})`).join('; ');
  throw new QualityGateError(`quality gate failed for ${report.dataset} on ${report.logicalDate}: ${details}; report: ${reportLocation}`);
}
