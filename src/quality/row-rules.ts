import { sqlIdentifier, type BindValue, type Engine, type InputColumn, type InputTable, type SqlParams } from '../engine/index.js';

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

/** Null or blank, for SQL whose value is text. */
function isBlankTextSql(text: string): string {
  return `(${text} IS NULL OR trim(${text}) = '')`;
}

/** Missing: null, or blank text (only text can be blank). */
function isBlankSql(column: InputColumn): string {
  const name = sqlIdentifier(column.name);
  if (column.type === 'VARCHAR') return isBlankTextSql(name);
  if (convertsExactly(column, 'number') || convertsExactly(column, 'timestamp')) return `${name} IS NULL`;
  return `(${name} IS NULL OR trim(${textSql(column)}) = '')`;
}

/**
 * Collects the values of a statement's parameters, after `initial` ($1.. taken by them); `bind`
 * returns the placeholder of a value.
 */
function parameters(initial: SqlParams = []): { params: SqlParams[number][]; bind: BindValue } {
  const params = [...initial];
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
 * Writes to `duplicatesTable` (`_file`, `_source_row`) every later row of an id within a
 * partition, to be quarantined as a duplicate; rows failing other checks (`failsSql`) rank last,
 * so that a valid row is kept. Only ids seen twice are ranked: grouping all ids is far cheaper
 * than sorting them, and most days have no duplicate at all. A blank id (counted by its own
 * check) is no duplicate: tested per repeated id, not per row. Returns how many rows it holds.
 */
async function findDuplicates(engine: Engine, input: InputTable, duplicatesTable: string, id: InputColumn, fails: BoundQuery): Promise<number> {
  const raw = sqlIdentifier(input.table);
  const idText = textSql(id);
  const { params, bind } = parameters(fails.params);
  // Within one partition (a day's files, the usual chunk) the id alone is the key: far cheaper to group by than with a text per row.
  const partitions = input.files.map((file) => file.partition);
  const partitionAndId = new Set(partitions).size === 1 ? idText : `${bind(partitions)}[_file + 1], ${idText}`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(duplicatesTable)} AS
    SELECT _file, _source_row FROM (
      SELECT _file, _source_row, row_number() OVER (PARTITION BY ${partitionAndId} ORDER BY ${fails.sql}, _file, _source_row) AS _id_rank
      FROM ${raw}
      WHERE (${partitionAndId}) IN (SELECT ${partitionAndId} FROM ${raw} GROUP BY ALL HAVING count(*) > 1 AND NOT ${isBlankTextSql(idText)})
    ) WHERE _id_rank > 1`,
    params,
  );
  const [{ rows }] = await engine.rows<{ rows: number }>(`SELECT count(*) AS rows FROM ${sqlIdentifier(duplicatesTable)}`);
  return rows;
}

/** Code counted for a line the reader could not split into columns. */
const MALFORMED_CODE = 'malformed line';
/** Code counted for a whole file that could not be trusted (one record, `_source_row` NULL). */
const CORRUPT_CODE = 'corrupt file';

/** Where a partition's records are: its counts and its files. */
interface PartitionExtent {
  counts: PartitionCounts;
  /** Range of its file indexes (`_file`). */
  files: [first: number, last: number];
}

/** Longest value quoted in a reason: a 3 MB field must not make a 3 MB reason or error line. */
const MAX_DETAIL_CHARS = 120;

function cappedDetailSql(text: string): string {
  return `(CASE WHEN length(${text}) > ${MAX_DETAIL_CHARS} THEN left(${text}, ${MAX_DETAIL_CHARS - 1}) || '…' ELSE ${text} END)`;
}

/** Adds `count` to `counts[code]`; a code never counted is left out. */
function addCount(counts: Record<string, number>, code: string, count: number): void {
  if (count > 0) counts[code] = (counts[code] ?? 0) + count;
}

/** Most frequent reason first, then by name: the order summaries list them in. */
function byFrequency(counts: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(counts).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)));
}

/** One input file's tally: rows read, rejected, duplicates, failures per check (`check_<k>`), valid rows outside the partition's date. */
type FileTally = { file: number; rows: number; rejected: number; duplicates: number; outside?: number } & Record<`check_${number}`, number>;

/**
 * Validates raw rows on DuckDB without copying them: a row's verdict is its checks, computed
 * where it is read, and whether it is a later duplicate of its id, kept (for the few rows that
 * are) in a table of their own. One scan of the input counts, per file, the rows, the rejects and
 * each check's failures; the valid rows of a partition (typed) and its rejected rows (as text,
 * with their reasons, malformed lines included) are queries that read its files once more, so that
 * writing silver and quarantine reads each row once. rowsRead = rowsValid + rowsQuarantined holds
 * in total and per partition.
 */
export async function validateRows(engine: Engine, input: InputTable, rules: RowRules): Promise<ValidationResult> {
  const columns = new Map(input.columns.map((column) => [column.name, column]));
  const columnOf = (name: string) => {
    const column = columns.get(name);
    if (column === undefined) throw new Error(`row rules name ${name}, which the input does not have`);
    return column;
  };
  // Every query below binds the checks' values first, as $1, $2, ...
  const checkParameters = parameters();
  const checks = checksFor(rules, columnOf, checkParameters.bind);
  const checkParams = checkParameters.params;
  const failsSql = checks.length === 0 ? 'false' : `(${checks.map((check) => `coalesce(${check.failsSql}, false)`).join(' OR ')})`;
  const duplicatesTable = `${input.table}_duplicates`;
  const idColumn = rules.idColumn === undefined ? undefined : columnOf(rules.idColumn);
  const duplicates = idColumn === undefined ? 0 : await findDuplicates(engine, input, duplicatesTable, idColumn, { sql: failsSql, params: checkParams });
  // Only with duplicates does a row's verdict take a join (whose output keeps no order of its own).
  // The rows of `rows` (the whole input, or a scan of some of its files), each with its verdict's join.
  const sourceOf = (rows: string) =>
    duplicates === 0
      ? `${rows} AS source`
      : `${rows} AS source LEFT JOIN ${sqlIdentifier(duplicatesTable)} AS duplicate ON duplicate._file = source._file AND duplicate._source_row = source._source_row`;
  const duplicateSql = duplicates === 0 ? 'false' : '(duplicate._file IS NOT NULL)';
  const rejectedSql = `(${failsSql} OR ${duplicateSql})`;
  const inputOrder = duplicates === 0 ? '' : ' ORDER BY source._file, source._source_row';

  const extents = new Map<string, PartitionExtent>();
  input.files.forEach((file, index) => {
    const extent = extents.get(file.partition);
    if (extent === undefined) extents.set(file.partition, { counts: { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {} }, files: [index, index] });
    else extent.files[1] = index;
  });
  const countsOf = (file: number) => (extents.get(input.files[file].partition) as PartitionExtent).counts;

  const tally = parameters(checkParams);
  const tallies = [
    'source._file AS file',
    'count(*) AS rows',
    `count(*) FILTER (WHERE ${rejectedSql}) AS rejected`,
    `count(*) FILTER (WHERE ${duplicateSql}) AS duplicates`,
    ...checks.map((check, k) => `count(*) FILTER (WHERE ${check.failsSql}) AS check_${k}`),
  ];
  // A valid row dated on another day than its partition's `date=` is a warning.
  const dates = input.files.map((file) => /(?:^|\/)date=(\d{4}-\d{2}-\d{2})\//.exec(file.partition)?.[1] ?? '');
  const eventTime = rules.eventTimeColumn === undefined || dates.every((date) => date === '') ? undefined : columnOf(rules.eventTimeColumn);
  if (eventTime !== undefined) {
    const date = `${tally.bind(dates)}[source._file + 1]`;
    tallies.push(`count(*) FILTER (WHERE NOT ${rejectedSql} AND ${date} <> '' AND CAST(${typedSql(eventTime, 'timestamp')} AS DATE) <> TRY_CAST(${date} AS DATE)) AS outside`);
  }
  for (const file of await engine.rows<FileTally>(`SELECT ${tallies.join(', ')} FROM ${sourceOf(sqlIdentifier(input.table))} GROUP BY ALL`, tally.params)) {
    const counts = countsOf(file.file);
    counts.rowsRead += file.rows;
    counts.rowsQuarantined += file.rejected;
    checks.forEach((check, k) => addCount(counts.reasonCounts, check.code, file[`check_${k}`]));
    if (idColumn !== undefined) addCount(counts.reasonCounts, `duplicate ${idColumn.name}`, file.duplicates);
    if (eventTime !== undefined && (file.outside ?? 0) > 0) addCount((counts.warnCounts ??= {}), `${eventTime.name} outside partition date`, file.outside ?? 0);
  }
  const malformed = await engine.rows<{ file: number; corrupt: boolean; rows: number }>(
    `SELECT _file AS file, _source_row IS NULL AS corrupt, count(*) AS rows FROM ${sqlIdentifier(input.malformedTable)} GROUP BY ALL`,
  );
  for (const { file, corrupt, rows } of malformed) {
    const counts = countsOf(file);
    counts.rowsRead += rows;
    counts.rowsQuarantined += rows;
    addCount(counts.reasonCounts, corrupt ? CORRUPT_CODE : MALFORMED_CODE, rows);
  }

  const partitions: Record<string, PartitionCounts> = {};
  const totals: PartitionCounts = { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {} };
  for (const [partition, { counts }] of extents) {
    counts.rowsValid = counts.rowsRead - counts.rowsQuarantined;
    counts.reasonCounts = byFrequency(counts.reasonCounts);
    partitions[partition] = counts;
    totals.rowsRead += counts.rowsRead;
    totals.rowsValid += counts.rowsValid;
    totals.rowsQuarantined += counts.rowsQuarantined;
    for (const [code, count] of Object.entries(counts.reasonCounts)) addCount(totals.reasonCounts, code, count);
  }
  totals.reasonCounts = byFrequency(totals.reasonCounts);

  const filesOf = (partition: string): [first: number, last: number] => {
    const extent = extents.get(partition);
    if (extent === undefined) throw new Error(`no input files in ${partition}`);
    return extent.files;
  };
  return {
    ...totals,
    partitions,
    validRows(partition, typedColumns) {
      const { params, bind } = parameters(checkParams);
      const select = typedColumns.map(({ name, from, type }) => {
        const column = columns.get(from);
        return `${column === undefined ? `CAST(NULL AS ${SQL_TYPES[type]})` : typedSql(column, type)} AS ${sqlIdentifier(name)}`;
      });
      return { sql: `SELECT ${select.join(', ')} FROM ${sourceOf(input.scanFiles(filesOf(partition), bind))} WHERE NOT ${rejectedSql}${inputOrder}`, params };
    },
    rejectedRows(partition) {
      const [first, last] = filesOf(partition);
      const { params, bind } = parameters(checkParams);
      const keys = bind(input.files.map((file) => file.key));
      const files = `BETWEEN ${bind(first)} AND ${bind(last)}`;
      const reasons = checks.map(
        (check) => `CASE WHEN ${check.failsSql} THEN ${bind(check.code)}${check.detailSql ? ` || ' (' || ${cappedDetailSql(`coalesce(${check.detailSql}, 'null')`)} || ')'` : ''} END`,
      );
      const checkReasons = checks.length === 0 ? 'CAST([] AS VARCHAR[])' : `list_filter([${reasons.join(', ')}], reason -> reason IS NOT NULL)`;
      const allReasons =
        idColumn === undefined || duplicates === 0
          ? checkReasons
          : `CASE WHEN ${duplicateSql} THEN list_append(${checkReasons}, ${bind(`duplicate ${idColumn.name}`)} || ' (' || ${textSql(idColumn)} || ')') ELSE ${checkReasons} END`;
      const text = input.columns.map((column) => `${textSql(column)} AS ${sqlIdentifier(column.name)}`);
      return {
        sql: `SELECT ${[...text, `${keys}[source._file + 1] AS _source_file`, 'source._source_row AS _source_row', 'CAST(NULL AS VARCHAR) AS _raw_line', `array_to_string(${allReasons}, '; ') AS _reason`].join(', ')}
          FROM ${sourceOf(input.scanFiles([first, last], bind))} WHERE ${rejectedSql}
          UNION ALL BY NAME
          SELECT ${keys}[_file + 1] AS _source_file, _source_row, _raw_line, _reason FROM ${sqlIdentifier(input.malformedTable)} WHERE _file ${files}
          ORDER BY _source_file, _source_row, _raw_line NULLS FIRST`,
        params,
      };
    },
  };
}
