import { sqlIdentifier, type Engine, type InputColumn, type InputTable, type SourceFile, type SqlParams } from '../engine/index.js';

/** Row-level rules a record must pass to reach silver; failing rows are quarantined, never dropped. */
export interface RowRules {
  /** Must be present and unique; later duplicates are quarantined, the first valid one is kept. */
  idColumn?: string;
  /** Text columns that must be present (not null, not blank). */
  requiredColumns: readonly string[];
  /** Must be finite numbers, at least `min` and one of `values` when given. */
  numericColumns: readonly { name: string; min?: number; values?: readonly number[] }[];
  /** Must be timestamps. */
  timestampColumns: readonly string[];
  /** Columns that may be blank; their values are checked only where present. */
  optionalColumns?: readonly string[];
  /** [start, end] pairs of timestamp columns where end may not be before start. */
  orderedTimestamps?: readonly (readonly [string, string])[];
  /**
   * Timestamp column that dates a row. A valid row dated on another day than its partition's
   * (`.../date=YYYY-MM-DD/`) is counted in `warnCounts`, not quarantined: late and early events
   * are common and legitimate in many feeds, so it is a warning for the quality report.
   */
  eventTimeColumn?: string;
}

/** A dataset's declared column types. */
export type ColumnType = 'string' | 'number' | 'timestamp';

/** A column of the valid rows: `from` (an input column) typed as `type` and named `name`. */
export interface TypedColumn {
  name: string;
  from: string;
  type: ColumnType;
}

/** A query with the values bound to its `$1`, `$2`, ... */
export interface BoundQuery {
  sql: string;
  params: SqlParams;
}

/** Counts of one partition (the lake folder rows came from, e.g. `bronze/flights/date=2001-01-05/`). */
export interface PartitionCounts {
  /** Records seen: parsed rows plus malformed lines, plus one per corrupt file (quarantined whole, as `corrupt file`). */
  rowsRead: number;
  rowsValid: number;
  rowsQuarantined: number;
  /** Quarantined rows per rule, most frequent first, e.g. `{ "negative ride_dist_km": 3, "duplicate ride_id": 1 }`. */
  reasonCounts: Record<string, number>;
  /** Valid rows flagged but kept, per warning, e.g. `{ "pickup_ts outside partition date": 2 }`; absent when none. */
  warnCounts?: Record<string, number>;
}

export interface ValidationResult extends PartitionCounts {
  /** The same counts per partition, so that many days validate in one pass; every partition of the input is there. */
  partitions: Record<string, PartitionCounts>;
  /** A partition's valid rows, typed and named as `columns` say (a column the input lacks is a typed NULL), in file and row order. */
  validRows(partition: string, columns: readonly TypedColumn[]): BoundQuery;
  /**
   * A partition's rejected records, in file and row order: every input column as text, then
   * `_source_file` (lake key), `_source_row`, `_raw_line` (set for malformed lines) and `_reason`.
   */
  rejectedRows(partition: string): BoundQuery;
}

const SQL_TYPES: Record<ColumnType, string> = { string: 'VARCHAR', number: 'DOUBLE', timestamp: 'TIMESTAMP' };

/**
 * Input types whose every value converts to a declared type, and to exactly what its text would
 * convert to (checked for DOUBLE, BIGINT and TIMESTAMP round trips): cast directly, skipping text.
 * Others (FLOAT, DECIMAL, TIMESTAMP_NS, ...) convert through their text, as a text file's value
 * would, so that a value reaches silver the same whatever format brought it.
 */
const EXACT_CASTS: Record<Exclude<ColumnType, 'string'>, ReadonlySet<string>> = {
  number: new Set(['DOUBLE', 'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']),
  timestamp: new Set(['TIMESTAMP', 'TIMESTAMP_S', 'TIMESTAMP_MS', 'DATE']),
};

/** Converts exactly and never fails: a value of this column cannot be non-numeric or an invalid timestamp. */
function convertsExactly(column: InputColumn, type: ColumnType): boolean {
  return type === 'string' || EXACT_CASTS[type].has(column.type);
}

/** The column as text: what a CSV would have held, and what quarantine shows. */
function textSql(column: InputColumn): string {
  const name = sqlIdentifier(column.name);
  if (column.type === 'VARCHAR') return name;
  // A JSON column holds a value as JSON (`"2.5"` quoted): its text is the unquoted value, so that
  // numbers given as strings or as numbers both convert, row by row.
  if (column.type === 'JSON') return `(${name} ->> '$')`;
  return `CAST(${name} AS VARCHAR)`;
}

/** The column as its declared type; NULL where a value does not convert. */
function typedSql(column: InputColumn, type: ColumnType): string {
  const name = sqlIdentifier(column.name);
  if (column.type === SQL_TYPES[type]) return name;
  if (convertsExactly(column, type)) return `CAST(${name} AS ${SQL_TYPES[type]})`;
  return `TRY_CAST(${textSql(column)} AS ${SQL_TYPES[type]})`;
}

/** Missing: null, or blank text (only text can be blank). */
function isBlankSql(column: InputColumn): string {
  const name = sqlIdentifier(column.name);
  if (column.type === 'VARCHAR') return `(${name} IS NULL OR trim(${name}) = '')`;
  if (convertsExactly(column, 'number') || convertsExactly(column, 'timestamp')) return `${name} IS NULL`;
  return `(${name} IS NULL OR trim(${textSql(column)}) = '')`;
}

/** Collects the values of a statement's parameters; `bind` returns the placeholder of a value. */
function parameters(): { params: (string | number | readonly string[])[]; bind(value: string | number | readonly string[]): string } {
  const params: (string | number | readonly string[])[] = [];
  return {
    params,
    bind(value) {
      params.push(value);
      return `$${params.length}`;
    },
  };
}

interface Check {
  /** Rule name used for counting, e.g. `non-numeric ride_dist_km`. */
  code: string;
  /** SQL boolean: the row fails this check. */
  failsSql: string;
  /** SQL text shown with the code for the row, e.g. the offending value. */
  detailSql?: string;
}

/**
 * The checks of `rules` on the input's columns, in the order reasons are listed. Checks that no
 * value of a column's type can fail (a Parquet DOUBLE is never non-numeric) are left out.
 */
function checksFor(rules: RowRules, columnOf: (name: string) => InputColumn, bind: (value: number) => string): Check[] {
  const checks: Check[] = [];
  // Columns that get no "missing" check: optional ones, and those already given one.
  const exempt = new Set<string>(rules.optionalColumns);
  const missing = (name: string) => {
    if (exempt.has(name)) return;
    exempt.add(name);
    checks.push({ code: `missing ${name}`, failsSql: isBlankSql(columnOf(name)) });
  };
  if (rules.idColumn !== undefined) missing(rules.idColumn);
  rules.requiredColumns.forEach(missing);
  for (const { name, min, values } of rules.numericColumns) {
    const column = columnOf(name);
    const number = typedSql(column, 'number');
    missing(name);
    if (!convertsExactly(column, 'number')) {
      checks.push({ code: `non-numeric ${name}`, failsSql: `NOT ${isBlankSql(column)} AND ${number} IS NULL`, detailSql: textSql(column) });
    }
    // Only doubles, and text, can hold NaN or Infinity.
    if (column.type === 'DOUBLE' || !convertsExactly(column, 'number')) {
      checks.push({ code: `non-finite ${name}`, failsSql: `(isnan(${number}) OR isinf(${number}))`, detailSql: textSql(column) });
    }
    if (min !== undefined) {
      checks.push({ code: min === 0 ? `negative ${name}` : `${name} below ${min}`, failsSql: `${number} < ${bind(min)}`, detailSql: textSql(column) });
    }
    if (values !== undefined) {
      checks.push({ code: `${name} not ${values.join(' or ')}`, failsSql: `${number} NOT IN (${values.map(bind).join(', ')})`, detailSql: textSql(column) });
    }
  }
  for (const name of rules.timestampColumns) {
    const column = columnOf(name);
    missing(name);
    if (!convertsExactly(column, 'timestamp')) {
      checks.push({ code: `invalid timestamp ${name}`, failsSql: `NOT ${isBlankSql(column)} AND ${typedSql(column, 'timestamp')} IS NULL`, detailSql: textSql(column) });
    }
    // `infinity` and `-infinity` are timestamps to DuckDB, but no ride starts at either.
    checks.push({ code: `invalid timestamp ${name}`, failsSql: `NOT isfinite(${typedSql(column, 'timestamp')})`, detailSql: textSql(column) });
  }
  for (const [start, end] of rules.orderedTimestamps ?? []) {
    checks.push({ code: `${end} before ${start}`, failsSql: `${typedSql(columnOf(end), 'timestamp')} < ${typedSql(columnOf(start), 'timestamp')}` });
  }
  return checks;
}

/**
 * Quarantines every later row of an id within a partition, as a duplicate; rows failing other
 * checks rank last, so that a valid row is kept. Only ids seen twice are ranked: grouping all ids
 * is far cheaper than sorting them, and most days have no duplicate at all.
 */
async function markDuplicates(engine: Engine, checkedTable: string, id: InputColumn, files: readonly SourceFile[]): Promise<void> {
  const checked = sqlIdentifier(checkedTable);
  const idText = textSql(id);
  // $1: the partition of each file, $2: the reason code.
  const partitionAndId = `$1[_file + 1], ${idText}`;
  await engine.run(
    `UPDATE ${checked} SET
      _codes = list_append(coalesce(_codes, []), $2),
      _reasons = list_append(coalesce(_reasons, []), $2 || ' (' || ${idText} || ')')
    FROM (
      SELECT rowid AS _row, row_number() OVER (PARTITION BY ${partitionAndId} ORDER BY _codes IS NOT NULL, _file, _source_row) AS _id_rank
      FROM ${checked}
      WHERE NOT ${isBlankSql(id)} AND (${partitionAndId}) IN (SELECT ${partitionAndId} FROM ${checked} WHERE NOT ${isBlankSql(id)} GROUP BY ALL HAVING count(*) > 1)
    ) AS ranked
    WHERE ${checked}.rowid = ranked._row AND ranked._id_rank > 1`,
    [files.map((file) => file.partition), `duplicate ${id.name}`],
  );
}

/** Code counted for a line the reader could not split into columns. */
const MALFORMED_CODE = 'malformed line';
/** Code counted for a whole file that could not be trusted (one record, `_source_row` NULL). */
const CORRUPT_CODE = 'corrupt file';

/** Where a partition's records are: its counts, its rows in the checked table, its files. */
interface PartitionExtent {
  counts: PartitionCounts;
  /** Row-id range in the checked table (a partition's rows are consecutive), or null without rows. */
  rows: [first: number, last: number] | null;
  /** Range of its file indexes (`_file`). */
  files: [first: number, last: number];
}

/** Longest value quoted in a reason: a 3 MB field must not make a 3 MB reason or error line. */
const MAX_DETAIL_CHARS = 120;

function cappedDetailSql(text: string): string {
  return `(CASE WHEN length(${text}) > ${MAX_DETAIL_CHARS} THEN left(${text}, ${MAX_DETAIL_CHARS - 1}) || '…' ELSE ${text} END)`;
}

/** The statement that gives every input row its verdict: the row as read, then `_codes` and `_reasons` (NULL when it passes). */
function verdictStatement(input: InputTable, rules: RowRules, checkedTable: string, columnOf: (name: string) => InputColumn): BoundQuery {
  const { params, bind } = parameters();
  const checks = checksFor(rules, columnOf, bind);
  const codes = checks.map((check) => bind(check.code));
  const anyFailSql = checks.map((check) => `coalesce(${check.failsSql}, false)`).join(' OR ');
  // Lists are built only for failing rows: most rows pass, and lists cost far more than booleans.
  const codesSql = `list_filter([${checks.map((check, k) => `CASE WHEN ${check.failsSql} THEN ${codes[k]} END`).join(', ')}], code -> code IS NOT NULL)`;
  const reasonsSql = `list_filter([${checks
    .map((check, k) => `CASE WHEN ${check.failsSql} THEN ${codes[k]}${check.detailSql ? ` || ' (' || ${cappedDetailSql(`coalesce(${check.detailSql}, 'null')`)} || ')'` : ''} END`)
    .join(', ')}], reason -> reason IS NOT NULL)`;
  const verdictSql = (list: string) => (checks.length === 0 ? 'CAST(NULL AS VARCHAR[])' : `CASE WHEN ${anyFailSql} THEN ${list} END`);
  // No window and no ORDER BY: the scan's order is kept, files in order and rows in file order.
  return {
    sql: `CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(checkedTable)} AS
      SELECT *, ${verdictSql(codesSql)} AS _codes, ${verdictSql(reasonsSql)} AS _reasons FROM ${sqlIdentifier(input.table)}`,
    params,
  };
}

/** Counts per partition (malformed lines included) and where each partition's rows are, from per-file totals. */
async function partitionExtents(engine: Engine, input: InputTable, checkedTable: string): Promise<Map<string, PartitionExtent>> {
  const checked = sqlIdentifier(checkedTable);
  // Per file: rows and rejects with their row-id range, then one row per reason code.
  const perFile = await engine.rows<{ file: number; code: string | null; rows: number; rejected: number; first: number | null; last: number | null }>(
    `SELECT _file AS file, NULL AS code, count(*) AS rows, count(_codes) AS rejected, min(rowid) AS first, max(rowid) AS last FROM ${checked} GROUP BY ALL
    UNION ALL SELECT _file, code, count(*), 0, NULL, NULL FROM (SELECT _file, unnest(_codes) AS code FROM ${checked} WHERE _codes IS NOT NULL) GROUP BY ALL
    UNION ALL SELECT _file, CASE WHEN _source_row IS NULL THEN $2 ELSE $1 END, count(*), count(*), NULL, NULL FROM ${sqlIdentifier(input.malformedTable)} GROUP BY ALL`,
    [MALFORMED_CODE, CORRUPT_CODE],
  );
  const extents = new Map<string, PartitionExtent>();
  input.files.forEach((file, index) => {
    const extent = extents.get(file.partition);
    if (extent === undefined) extents.set(file.partition, { counts: { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {} }, rows: null, files: [index, index] });
    else extent.files[1] = index;
  });
  for (const { file, code, rows, rejected, first, last } of perFile) {
    const extent = extents.get(input.files[file].partition) as PartitionExtent;
    const { counts } = extent;
    if (code === null || code === MALFORMED_CODE || code === CORRUPT_CODE) {
      counts.rowsRead += rows;
      counts.rowsQuarantined += rejected;
    }
    if (code !== null) counts.reasonCounts[code] = (counts.reasonCounts[code] ?? 0) + rows;
    if (first !== null && last !== null) extent.rows = extent.rows === null ? [first, last] : [Math.min(extent.rows[0], first), Math.max(extent.rows[1], last)];
  }
  for (const { counts } of extents.values()) {
    counts.rowsValid = counts.rowsRead - counts.rowsQuarantined;
    counts.reasonCounts = byFrequency(counts.reasonCounts);
  }
  return extents;
}

/** Adds to each partition's `warnCounts` its valid rows whose event time falls on another day than the partition's `date=`. */
async function countOutsidePartitionDate(engine: Engine, input: InputTable, checkedTable: string, eventTime: InputColumn, extents: Map<string, PartitionExtent>): Promise<void> {
  const dates = input.files.map((file) => /(?:^|\/)date=(\d{4}-\d{2}-\d{2})\//.exec(file.partition)?.[1] ?? '');
  if (dates.every((date) => date === '')) return;
  const code = `${eventTime.name} outside partition date`;
  const counts = await engine.rows<{ file: number; n: number }>(
    `SELECT _file AS file, count(*) AS n FROM ${sqlIdentifier(checkedTable)}
    WHERE _codes IS NULL AND $1[_file + 1] <> '' AND CAST(${typedSql(eventTime, 'timestamp')} AS DATE) <> TRY_CAST($1[_file + 1] AS DATE) GROUP BY ALL`,
    [dates],
  );
  for (const { file, n } of counts) {
    const extent = extents.get(input.files[file].partition) as PartitionExtent;
    extent.counts.warnCounts = { ...extent.counts.warnCounts, [code]: (extent.counts.warnCounts?.[code] ?? 0) + n };
  }
}

/** Most frequent reason first, then by name: the order summaries list them in. */
function byFrequency(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Validates raw rows in one SQL pass on DuckDB: every check gives each row its verdict once
 * (`_codes`, `_reasons`; NULL when it passes), stored with the raw values in one table in input
 * order; the duplicate-key rule then adds to the verdicts of the few rows it concerns. The valid
 * rows of a partition (typed) and its rejected rows (as text, malformed lines included) are
 * queries over consecutive rows of that table, so writing silver and quarantine reads each row
 * once more and checks nothing again. rowsRead = rowsValid + rowsQuarantined holds in total and
 * per partition.
 */
export async function validateRows(engine: Engine, input: InputTable, rules: RowRules): Promise<ValidationResult> {
  const checkedTable = `${input.table}_checked`;
  const columns = new Map(input.columns.map((column) => [column.name, column]));
  const columnOf = (name: string) => {
    const column = columns.get(name);
    if (column === undefined) throw new Error(`row rules name ${name}, which the input does not have`);
    return column;
  };
  const verdicts = verdictStatement(input, rules, checkedTable, columnOf);
  await engine.run(verdicts.sql, verdicts.params);
  if (rules.idColumn !== undefined) await markDuplicates(engine, checkedTable, columnOf(rules.idColumn), input.files);
  const extents = await partitionExtents(engine, input, checkedTable);
  if (rules.eventTimeColumn !== undefined) await countOutsidePartitionDate(engine, input, checkedTable, columnOf(rules.eventTimeColumn), extents);

  const partitions: Record<string, PartitionCounts> = {};
  const totals: PartitionCounts = { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {} };
  for (const [partition, { counts }] of extents) {
    partitions[partition] = counts;
    totals.rowsRead += counts.rowsRead;
    totals.rowsValid += counts.rowsValid;
    totals.rowsQuarantined += counts.rowsQuarantined;
    for (const [code, count] of Object.entries(counts.reasonCounts)) totals.reasonCounts[code] = (totals.reasonCounts[code] ?? 0) + count;
  }
  totals.reasonCounts = byFrequency(totals.reasonCounts);

  const extentOf = (partition: string): PartitionExtent => {
    const extent = extents.get(partition);
    if (extent === undefined) throw new Error(`no input files in ${partition}`);
    return extent;
  };
  const checked = sqlIdentifier(checkedTable);
  const keys = input.files.map((file) => file.key);
  return {
    ...totals,
    partitions,
    validRows(partition, typedColumns) {
      // A row-id range prunes far better than any filter on a column. The file range keeps it to
      // the partition's own rows: DuckDB updates a list column by delete and insert, so a row
      // marked as a duplicate moves to the end of the table and widens its partition's range.
      const { rows, files } = extentOf(partition);
      const [first, last] = rows ?? [0, -1];
      const select = typedColumns.map(({ name, from, type }) => {
        const column = columns.get(from);
        return `${column === undefined ? `CAST(NULL AS ${SQL_TYPES[type]})` : typedSql(column, type)} AS ${sqlIdentifier(name)}`;
      });
      return { sql: `SELECT ${select.join(', ')} FROM ${checked} WHERE rowid BETWEEN $1 AND $2 AND _file BETWEEN $3 AND $4 AND _codes IS NULL`, params: [first, last, files[0], files[1]] };
    },
    rejectedRows(partition) {
      const { rows, files } = extentOf(partition);
      const [first, last] = rows ?? [0, -1];
      const text = input.columns.map((column) => `${textSql(column)} AS ${sqlIdentifier(column.name)}`);
      // $1: the lake key of each file.
      return {
        sql: `SELECT ${[...text, '$1[_file + 1] AS _source_file', '_source_row', 'CAST(NULL AS VARCHAR) AS _raw_line', `array_to_string(_reasons, '; ') AS _reason`].join(', ')}
          FROM ${checked} WHERE rowid BETWEEN $2 AND $3 AND _file BETWEEN $4 AND $5 AND _codes IS NOT NULL
          UNION ALL BY NAME
          SELECT $1[_file + 1] AS _source_file, _source_row, _raw_line, _reason FROM ${sqlIdentifier(input.malformedTable)} WHERE _file BETWEEN $4 AND $5
          ORDER BY _source_file, _source_row, _raw_line NULLS FIRST`,
        params: [keys, first, last, files[0], files[1]],
      };
    },
  };
}
