import { sqlIdentifier, type Engine, type Row, type SqlParams } from '../engine/index.js';
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

interface Plan {
  statement: string;
  /** Row-level: SQL condition a failing row meets. */
  failingRowSql?: string;
  /** Dataset-level: SQL of one number, and whether it passes. */
  observedSql?: string;
  passes?: (observed: number | null) => boolean;
  /** Values of the SQL's `$1`, `$2`, ... */
  params: SqlParams;
}

function plan(expectation: Expectation, table: string, logicalDate: string): Plan {
  const params: (string | number)[] = [];
  /** Binds a value, returning its placeholder. */
  const bind = (value: string | number) => `$${params.push(value)}`;
  const rangeSql = (valueSql: string, min: number | undefined, max: number | undefined) =>
    [min !== undefined ? `${valueSql} >= ${bind(min)}` : undefined, max !== undefined ? `${valueSql} <= ${bind(max)}` : undefined].filter(Boolean).join(' AND ') || 'TRUE';
  switch (expectation.type) {
    case 'not_null': {
      const column = sqlIdentifier(expectation.column);
      return { statement: `${expectation.column} is not null`, failingRowSql: `${column} IS NULL`, params };
    }
    case 'between': {
      const column = sqlIdentifier(expectation.column);
      return {
        statement: `${expectation.column} ${range(expectation.min, expectation.max)}`,
        failingRowSql: `${column} IS NOT NULL AND NOT (${rangeSql(column, expectation.min, expectation.max)})`,
        params,
      };
    }
    case 'in_set': {
      const column = sqlIdentifier(expectation.column);
      return {
        statement: `${expectation.column} in {${expectation.values.join(', ')}}`,
        failingRowSql: `${column} IS NOT NULL AND ${column} NOT IN (${expectation.values.map(bind).join(', ')})`,
        params,
      };
    }
    case 'unique': {
      const column = sqlIdentifier(expectation.column);
      return {
        statement: `${expectation.column} is unique`,
        failingRowSql: `${column} IN (SELECT ${column} FROM ${table} WHERE ${column} IS NOT NULL GROUP BY ALL HAVING count(*) > 1)`,
        params,
      };
    }
    case 'row_count_between':
      return {
        statement: `row count ${range(expectation.min, expectation.max)}`,
        observedSql: `SELECT count(*) FROM ${table}`,
        passes: (count) => count !== null && (expectation.min === undefined || count >= expectation.min) && (expectation.max === undefined || count <= expectation.max),
        params,
      };
    case 'mean_between':
      return {
        statement: `mean of ${expectation.column} ${range(expectation.min, expectation.max)}`,
        observedSql: `SELECT avg(${sqlIdentifier(expectation.column)}) FROM ${table}`,
        passes: (mean) => mean !== null && (expectation.min === undefined || mean >= expectation.min) && (expectation.max === undefined || mean <= expectation.max),
        params,
      };
    case 'freshness':
      return {
        statement: `newest ${expectation.column} at most ${expectation.maxAgeHours} h before the end of ${logicalDate}`,
        // Age of the newest value relative to midnight after the logical date, in hours.
        observedSql: `SELECT date_diff('second', max(CAST(${sqlIdentifier(expectation.column)} AS TIMESTAMP)), CAST(${bind(logicalDate)} AS TIMESTAMP) + INTERVAL 1 DAY) / 3600.0 FROM ${table}`,
        passes: (ageHours) => ageHours !== null && ageHours <= expectation.maxAgeHours,
        params,
      };
  }
}

function firstNumber(row: Row | undefined): number | null {
  const value = row === undefined ? null : Object.values(row)[0];
  return value === null || value === undefined ? null : Number(value);
}

/**
 * Evaluates expectations on a DuckDB table, in SQL. Never throws for failed expectations: the
 * report says what passed; {@link assertQualityGate} turns a failed `fail` into an error.
 */
export async function checkExpectations(
  engine: Engine,
  table: string,
  expectations: readonly Expectation[],
  context: { dataset: string; logicalDate: string; sampleSize?: number },
): Promise<QualityReport> {
  const tableSql = sqlIdentifier(table);
  const sampleSize = context.sampleSize ?? 5;
  const [{ rows }] = await engine.rows<{ rows: number }>(`SELECT count(*) AS rows FROM ${tableSql}`);
  const results: ExpectationResult[] = [];
  for (const expectation of expectations) {
    const { statement, failingRowSql, observedSql, passes, params } = plan(expectation, tableSql, context.logicalDate);
    const column = 'column' in expectation ? expectation.column : null;
    if (failingRowSql !== undefined) {
      const failingRows = firstNumber((await engine.rows(`SELECT count(*) FROM ${tableSql} WHERE ${failingRowSql}`, params))[0]) ?? 0;
      const sample = failingRows > 0 ? await engine.rows(`SELECT * FROM ${tableSql} WHERE ${failingRowSql} LIMIT $${params.length + 1}`, [...params, sampleSize]) : [];
      results.push({ expectation: statement, type: expectation.type, column, severity: expectation.severity, passed: failingRows === 0, observed: failingRows, failingRows, sample });
    } else {
      const observed = firstNumber((await engine.rows(observedSql as string, params))[0]);
      const passed = (passes as (value: number | null) => boolean)(observed);
      results.push({ expectation: statement, type: expectation.type, column, severity: expectation.severity, passed, observed, failingRows: null, sample: [] });
    }
  }
  const passed = results.every((result) => result.passed || result.severity === 'warn');
  return { dataset: context.dataset, logicalDate: context.logicalDate, rows, passed, results };
}

/** Throws QualityGateError naming every failed `fail` expectation, in one line. */
export function assertQualityGate(report: QualityReport, reportLocation: string): void {
  const failed = report.results.filter((result) => !result.passed && result.severity === 'fail');
  if (failed.length === 0) return;
  const details = failed.map((result) => `${result.expectation} (observed ${result.observed ?? 'nothing'})`).join('; ');
  throw new QualityGateError(`quality gate failed for ${report.dataset} on ${report.logicalDate}: ${details}; report: ${reportLocation}`);
}
