import { sqlIdentifier, sqlString, type Engine, type InputTable } from '../engine/index.js';

/** Row-level rules a record must pass to reach silver; failing rows are quarantined, never dropped. */
export interface RowRules {
  /** Must be present and unique; later duplicates are quarantined, the first valid one is kept. */
  idColumn?: string;
  /** Text columns that must be present (not null, not blank). */
  requiredColumns: readonly string[];
  /** Must parse as finite numbers, at least `min` when given. */
  numericColumns: readonly { name: string; min?: number }[];
  /** Must parse as timestamps. */
  timestampColumns: readonly string[];
  /** [start, end] pairs of timestamp columns where end may not be before start. */
  orderedTimestamps?: readonly (readonly [string, string])[];
}

export interface ValidationResult {
  /** Typed rows: numeric columns DOUBLE, timestamps TIMESTAMP, others VARCHAR, plus `_source_file`, `_source_row`. */
  validTable: string;
  /** Every rejected record with all its raw columns, `_source_file`, `_source_row`, `_raw_line` and `_reason`. */
  quarantineTable: string;
  /** Records seen: parsed rows plus malformed lines. */
  rowsRead: number;
  rowsValid: number;
  rowsQuarantined: number;
  /** Quarantined rows per rule, e.g. `{ "negative ride_dist_km": 3, "duplicate ride_id": 1 }`. */
  reasonCounts: Record<string, number>;
}

interface Check {
  /** Rule name used for counting, e.g. `non-numeric ride_dist_km`. */
  code: string;
  /** SQL boolean: the row fails this check. */
  failsSql: string;
  /** SQL text shown with the code for the row, e.g. the offending value. */
  detailSql?: string;
}

function isBlank(column: string): string {
  return `(${column} IS NULL OR trim(${column}) = '')`;
}

function checksFor(rules: RowRules): Check[] {
  const checks: Check[] = [];
  const present = new Set<string>();
  const missing = (name: string) => {
    if (present.has(name)) return;
    present.add(name);
    checks.push({ code: `missing ${name}`, failsSql: isBlank(sqlIdentifier(name)) });
  };
  if (rules.idColumn !== undefined) missing(rules.idColumn);
  rules.requiredColumns.forEach(missing);
  for (const { name, min } of rules.numericColumns) {
    const column = sqlIdentifier(name);
    const number = `TRY_CAST(${column} AS DOUBLE)`;
    missing(name);
    checks.push({ code: `non-numeric ${name}`, failsSql: `NOT ${isBlank(column)} AND ${number} IS NULL`, detailSql: column });
    checks.push({ code: `non-finite ${name}`, failsSql: `(isnan(${number}) OR isinf(${number}))`, detailSql: column });
    if (min !== undefined) {
      const below = min === 0 ? `negative ${name}` : `${name} below ${min}`;
      checks.push({ code: below, failsSql: `${number} < ${min}`, detailSql: column });
    }
  }
  for (const name of rules.timestampColumns) {
    const column = sqlIdentifier(name);
    missing(name);
    checks.push({ code: `invalid timestamp ${name}`, failsSql: `NOT ${isBlank(column)} AND TRY_CAST(${column} AS TIMESTAMP) IS NULL`, detailSql: column });
  }
  for (const [start, end] of rules.orderedTimestamps ?? []) {
    const startTs = `TRY_CAST(${sqlIdentifier(start)} AS TIMESTAMP)`;
    const endTs = `TRY_CAST(${sqlIdentifier(end)} AS TIMESTAMP)`;
    checks.push({ code: `${end} before ${start}`, failsSql: `${endTs} < ${startTs}` });
  }
  return checks;
}

/**
 * Splits raw text rows into typed valid rows and quarantined rows with a reason each, in SQL on
 * DuckDB. Malformed lines found while reading are quarantined too, so rowsRead =
 * rowsValid + rowsQuarantined always holds.
 */
export async function validateRows(engine: Engine, input: InputTable, rules: RowRules): Promise<ValidationResult> {
  const checks = checksFor(rules);
  const checked = `${input.table}_checked`;
  const validTable = `${input.table}_valid`;
  const quarantineTable = `${input.table}_quarantine`;
  const id = rules.idColumn === undefined ? undefined : sqlIdentifier(rules.idColumn);
  const duplicate = sqlString(`duplicate ${rules.idColumn}`);
  // Rank 2+ of an id is a duplicate; rows failing other checks rank last, so a valid row is kept.
  const idRankSql = id === undefined
    ? 'CAST(NULL AS BIGINT)'
    : `CASE WHEN NOT ${isBlank(id)} THEN row_number() OVER (PARTITION BY ${id} ORDER BY len(_codes) > 0, _source_file, _source_row) END`;
  // Each failing check contributes its code; NULLs (passing checks) are filtered out.
  const codesSql = `list_filter([${checks.map((check) => `CASE WHEN ${check.failsSql} THEN ${sqlString(check.code)} END`).join(', ')}], code -> code IS NOT NULL)`;
  const reasonSql = `list_filter([${checks
    .map((check) => `CASE WHEN ${check.failsSql} THEN ${sqlString(check.code)}${check.detailSql ? ` || ' (' || coalesce(${check.detailSql}, 'null') || ')'` : ''} END`)
    .join(', ')}], reason -> reason IS NOT NULL)`;

  await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(checked)} AS
    WITH coded AS (SELECT *, ${codesSql} AS _codes, ${reasonSql} AS _reasons FROM ${sqlIdentifier(input.table)}),
    ranked AS (SELECT *, ${idRankSql} AS _id_rank FROM coded)
    SELECT * EXCLUDE (_codes, _reasons, _id_rank),
      CASE WHEN _id_rank > 1 THEN list_append(_codes, ${duplicate}) ELSE _codes END AS _codes,
      CASE WHEN _id_rank > 1 THEN list_append(_reasons, ${duplicate} || ' (' || ${id ?? 'NULL'} || ')') ELSE _reasons END AS _reasons
    FROM ranked`);

  const numeric = new Set(rules.numericColumns.map((column) => column.name));
  const timestamps = new Set(rules.timestampColumns);
  const typedSql = (name: string) => {
    const column = sqlIdentifier(name);
    if (numeric.has(name)) return `CAST(${column} AS DOUBLE) AS ${column}`;
    if (timestamps.has(name)) return `CAST(${column} AS TIMESTAMP) AS ${column}`;
    return column;
  };
  const columns = await engine.columnNames(input.table);
  await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(validTable)} AS
    SELECT ${columns.map(typedSql).join(', ')} FROM ${sqlIdentifier(checked)} WHERE len(_codes) = 0`);
  await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(quarantineTable)} AS
    SELECT * EXCLUDE (_codes, _reasons), CAST(NULL AS VARCHAR) AS _raw_line, array_to_string(_reasons, '; ') AS _reason
    FROM ${sqlIdentifier(checked)} WHERE len(_codes) > 0
    UNION ALL BY NAME SELECT * FROM ${sqlIdentifier(input.malformedTable)}`);

  const counts = await engine.rows<{ code: string; rows: number }>(`
    SELECT code, count(*) AS rows FROM (SELECT unnest(_codes) AS code FROM ${sqlIdentifier(checked)}) GROUP BY code
    UNION ALL SELECT 'malformed line', count(*) FROM ${sqlIdentifier(input.malformedTable)} HAVING count(*) > 0
    ORDER BY rows DESC, code`);
  const [{ valid }] = await engine.rows<{ valid: number }>(`SELECT count(*) AS valid FROM ${sqlIdentifier(validTable)}`);
  const [{ quarantined }] = await engine.rows<{ quarantined: number }>(`SELECT count(*) AS quarantined FROM ${sqlIdentifier(quarantineTable)}`);
  return {
    validTable,
    quarantineTable,
    rowsRead: input.rowCount + input.malformedCount,
    rowsValid: valid,
    rowsQuarantined: quarantined,
    reasonCounts: Object.fromEntries(counts.map((row) => [row.code, row.rows])),
  };
}
