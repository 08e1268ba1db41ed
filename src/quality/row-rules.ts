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
  /** Columns that may be blank; their values are checked only where present. */
  optionalColumns?: readonly string[];
  /** [start, end] pairs of timestamp columns where end may not be before start. */
  orderedTimestamps?: readonly (readonly [string, string])[];
}

/** Counts of one partition (the lake folder rows came from, e.g. `bronze/flights/date=2001-01-05/`). */
export interface PartitionCounts {
  rowsRead: number;
  rowsValid: number;
  rowsQuarantined: number;
  reasonCounts: Record<string, number>;
  /** First and last rowid of the partition's rows in the valid table (they are contiguous), or null when none. */
  validRowIds: [first: number, last: number] | null;
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
  /** The same counts per partition (folder of `_source_file`), so many days validate in one pass. */
  partitions: Record<string, PartitionCounts>;
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
  // Columns that get no "missing" check: optional ones, and those already given one.
  const exempt = new Set<string>(rules.optionalColumns);
  const missing = (name: string) => {
    if (exempt.has(name)) return;
    exempt.add(name);
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
 * rowsValid + rowsQuarantined always holds, in total and per partition. Both tables carry
 * `_partition` (the source folder) and the valid rows are sorted by it, so that one day of a
 * many-day validation is cheap to select.
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
    : `CASE WHEN NOT ${isBlank(id)} THEN row_number() OVER (PARTITION BY _partition, ${id} ORDER BY len(_codes) > 0, _source_file, _source_row) END`;
  // Lists of codes are built only for failing rows: most rows pass, and lists cost far more than booleans.
  const anyFailSql = checks.length === 0 ? 'false' : checks.map((check) => `coalesce(${check.failsSql}, false)`).join(' OR ');
  // Each failing check contributes its code; NULLs (passing checks) are filtered out.
  const codesSql = `list_filter([${checks.map((check) => `CASE WHEN ${check.failsSql} THEN ${sqlString(check.code)} END`).join(', ')}], code -> code IS NOT NULL)`;
  const reasonSql = `list_filter([${checks
    .map((check) => `CASE WHEN ${check.failsSql} THEN ${sqlString(check.code)}${check.detailSql ? ` || ' (' || coalesce(${check.detailSql}, 'null') || ')'` : ''} END`)
    .join(', ')}], reason -> reason IS NOT NULL)`;

  // Only the verdict per row is materialised (row id, partition, codes): copying every text column
  // once more would cost more than all the checks.
  const raw = sqlIdentifier(input.table);
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(checked)} AS
    WITH flagged AS (SELECT rowid AS _rid, *, coalesce(${anyFailSql}, false) AS _fails FROM ${raw}),
    coded AS (
      SELECT _rid, _partition, _source_file, _source_row${id === undefined ? '' : `, ${id}`},
        CASE WHEN _fails THEN ${codesSql} ELSE CAST([] AS VARCHAR[]) END AS _codes,
        CASE WHEN _fails THEN ${reasonSql} ELSE CAST([] AS VARCHAR[]) END AS _reasons
      FROM flagged),
    ranked AS (SELECT *, ${idRankSql} AS _id_rank FROM coded)
    SELECT _rid, _partition,
      CASE WHEN _id_rank > 1 THEN list_append(_codes, ${duplicate}) ELSE _codes END AS _codes,
      CASE WHEN _id_rank > 1 THEN list_append(_reasons, ${duplicate} || ' (' || ${id ?? 'NULL'} || ')') ELSE _reasons END AS _reasons
    FROM ranked`);
  const failing = `(SELECT _rid, _reasons FROM ${sqlIdentifier(checked)} WHERE len(_codes) > 0)`;

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
    SELECT ${columns.map(typedSql).join(', ')} FROM ${raw} ANTI JOIN ${failing} AS failing ON ${raw}.rowid = failing._rid
    ORDER BY _partition, _source_file, _source_row`);
  const malformed = `SELECT *, ['malformed line'] AS _codes FROM ${sqlIdentifier(input.malformedTable)}`;
  await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(quarantineTable)} AS
    SELECT ${raw}.*, CAST(NULL AS VARCHAR) AS _raw_line, array_to_string(failing._reasons, '; ') AS _reason
    FROM ${raw} JOIN ${failing} AS failing ON ${raw}.rowid = failing._rid
    UNION ALL BY NAME SELECT * EXCLUDE (_codes) FROM (${malformed})`);

  const rows = await engine.rows<{ partition: string; code: string | null; rows: number }>(`
    WITH coded AS (
      SELECT _partition, _codes FROM ${sqlIdentifier(checked)}
      UNION ALL SELECT _partition, _codes FROM (${malformed}))
    SELECT _partition AS partition, NULL AS code, count(*) AS rows FROM coded GROUP BY ALL
    UNION ALL SELECT _partition, NULL, -count(*) FROM coded WHERE len(_codes) > 0 GROUP BY ALL
    UNION ALL SELECT _partition, code, count(*) FROM (SELECT _partition, unnest(_codes) AS code FROM coded) GROUP BY ALL
    ORDER BY partition, rows DESC, code`);
  // Per partition: one row of all records, one of minus the quarantined ones, then one per reason.
  const partitions: Record<string, PartitionCounts> = {};
  for (const { partition, code, rows: count } of rows) {
    const counts = (partitions[partition] ??= { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {}, validRowIds: null });
    if (code !== null) counts.reasonCounts[code] = count;
    else if (count >= 0) counts.rowsRead = count;
    else counts.rowsQuarantined = -count;
  }
  const ranges = await engine.rows<{ partition: string; first: number; last: number }>(
    `SELECT _partition AS partition, min(rowid) AS first, max(rowid) AS last FROM ${sqlIdentifier(validTable)} GROUP BY ALL`,
  );
  for (const { partition, first, last } of ranges) partitions[partition].validRowIds = [first, last];
  const totals: Omit<PartitionCounts, 'validRowIds'> = { rowsRead: 0, rowsValid: 0, rowsQuarantined: 0, reasonCounts: {} };
  for (const counts of Object.values(partitions)) {
    counts.rowsValid = counts.rowsRead - counts.rowsQuarantined;
    totals.rowsRead += counts.rowsRead;
    totals.rowsValid += counts.rowsValid;
    totals.rowsQuarantined += counts.rowsQuarantined;
    for (const [code, count] of Object.entries(counts.reasonCounts)) totals.reasonCounts[code] = (totals.reasonCounts[code] ?? 0) + count;
  }
  totals.reasonCounts = Object.fromEntries(Object.entries(totals.reasonCounts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b)));
  return { validTable, quarantineTable, ...totals, partitions };
}
