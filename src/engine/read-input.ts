import { InputError, oneLine } from '../errors.js';
import type { Lake, LakeObject } from '../lake/index.js';
import { sqlIdentifier, sqlString, type Engine } from './duckdb-engine.js';

export type InputFormat = 'auto' | 'csv' | 'parquet' | 'json';

export interface ReadInputOptions {
  /** Name of the DuckDB table to create. */
  table: string;
  format: InputFormat;
  /** Columns every input file must have. */
  requiredColumns: readonly string[];
}

/**
 * Raw input loaded as text: every column is VARCHAR so that validation, not the reader, decides
 * what is bad. Each row carries `_source_file` (lake key) and `_source_row` (1-based record
 * number within its file) and `_partition` (the file's folder, e.g. `bronze/rides/date=D/`). Lines the
 * CSV reader could not split into columns are in `<table>_malformed` with `_source_file`,
 * `_partition`, `_source_row` (the line number), `_raw_line`, `_reason`.
 */
export interface InputTable {
  table: string;
  malformedTable: string;
  rowCount: number;
  malformedCount: number;
  /** Files read, in key order. */
  files: LakeObject[];
  /** Files skipped because they have no bytes. */
  emptyFiles: string[];
}

type FileFormat = Exclude<InputFormat, 'auto'>;

function formatOf(key: string, declared: InputFormat): FileFormat {
  if (declared !== 'auto') return declared;
  const name = key.toLowerCase().replace(/\.(gz|zst)$/, '');
  if (name.endsWith('.csv') || name.endsWith('.tsv') || name.endsWith('.txt')) return 'csv';
  if (name.endsWith('.parquet')) return 'parquet';
  if (name.endsWith('.json') || name.endsWith('.jsonl') || name.endsWith('.ndjson')) return 'json';
  throw new InputError(`${key}: cannot tell the file format from its name; set format: csv|parquet|json`);
}

function readerSql(format: FileFormat, localPath: string, rejects: string): string {
  const file = sqlString(localPath);
  switch (format) {
    case 'csv':
      return `read_csv(${file}, header = true, all_varchar = true, hive_partitioning = false,
        store_rejects = true, rejects_table = ${sqlString(rejects)}, rejects_scan = ${sqlString(`${rejects}_scan`)})`;
    case 'parquet':
      return `read_parquet(${file}, hive_partitioning = false)`;
    case 'json':
      return `read_json_auto(${file}, format = 'newline_delimited', hive_partitioning = false)`;
  }
}

/**
 * Loads the given lake objects into a text table for validation. Zero-byte files are skipped
 * and reported; a file that cannot be read, or missing required columns, is an InputError
 * naming the file.
 */
export async function readInputTable(
  engine: Engine,
  lake: Lake,
  objects: readonly LakeObject[],
  options: ReadInputOptions,
): Promise<InputTable> {
  const { table } = options;
  const malformedTable = `${table}_malformed`;
  const emptyFiles = objects.filter((object) => object.size === 0).map((object) => object.key);
  const files = objects.filter((object) => object.size > 0);
  if (files.length === 0) {
    const what = objects.length === 0 ? 'no files' : `only empty files (${emptyFiles.join(', ')})`;
    throw new InputError(`input has ${what}`);
  }
  const localPaths = await engine.stage(lake, files.map((file) => file.key));

  await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(malformedTable)} (_source_file VARCHAR, _partition VARCHAR, _source_row BIGINT, _raw_line VARCHAR, _reason VARCHAR)`);
  const parts: string[] = [];
  const parquetFiles = files.flatMap((file, index) => (formatOf(file.key, options.format) === 'parquet' ? [{ key: file.key, localPath: localPaths[index] }] : []));
  if (parquetFiles.length > 0) parts.push(await readParquetFiles(engine, `${table}_parquet`, parquetFiles, options.requiredColumns));
  // CSV and JSON: one read per file, since DuckDB keeps CSV rejects only without union_by_name.
  for (const [index, file] of files.entries()) {
    const format = formatOf(file.key, options.format);
    if (format === 'parquet') continue;
    const rawTable = `${table}_raw_${index}`;
    const rejects = `${rawTable}_rejects`;
    try {
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(rawTable)} AS SELECT * FROM ${readerSql(format, localPaths[index], rejects)}`);
    } catch (error) {
      throw new InputError(`${file.key}: cannot read as ${format}: ${oneLine(error)}`, { cause: error });
    }
    const columns = await engine.columnNames(rawTable);
    checkRequiredColumns(columns, file.key, options.requiredColumns);
    const textColumns = columns.map((name) => `CAST(${sqlIdentifier(name)} AS VARCHAR) AS ${sqlIdentifier(name)}`).join(', ');
    parts.push(`SELECT ${textColumns}, ${sqlString(file.key)} AS _source_file, ${sqlString(partitionOf(file.key))} AS _partition, row_number() OVER () AS _source_row FROM ${sqlIdentifier(rawTable)}`);
    if (format === 'csv') {
      // DuckDB logs one reject per offending column; a line is quarantined once.
      await engine.run(`INSERT INTO ${sqlIdentifier(malformedTable)}
        SELECT ${sqlString(file.key)}, ${sqlString(partitionOf(file.key))}, line, first(csv_line ORDER BY column_idx),
               'malformed CSV line: ' || lower(first(error_type ORDER BY column_idx)) || ' (' || first(error_message ORDER BY column_idx) || ')'
        FROM ${sqlIdentifier(rejects)} GROUP BY line ORDER BY line`);
    }
  }
  await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(table)} AS ${parts.join(' UNION ALL BY NAME ')}`);
  const [{ rows }] = await engine.rows<{ rows: number }>(`SELECT count(*) AS rows FROM ${sqlIdentifier(table)}`);
  const [{ malformed }] = await engine.rows<{ malformed: number }>(`SELECT count(*) AS malformed FROM ${sqlIdentifier(malformedTable)}`);
  return { table, malformedTable, rowCount: rows, malformedCount: malformed, files, emptyFiles };
}

/**
 * Reads many Parquet files in one scan (a day per file over months is common) and returns the SELECT
 * giving their rows as text with `_source_file` and `_source_row`. Each file must have the required
 * columns; an unreadable file is named.
 */
async function readParquetFiles(engine: Engine, rawTable: string, files: { key: string; localPath: string }[], required: readonly string[]): Promise<string> {
  const pathList = `[${files.map((file) => sqlString(file.localPath)).join(', ')}]`;
  let schemas: { file_name: string; names: string[] }[];
  try {
    schemas = await engine.rows(`SELECT file_name, list(name) AS names FROM parquet_schema(${pathList}) GROUP BY file_name`);
  } catch (error) {
    // Find the culprit so that the message names it.
    for (const file of files) {
      await engine.rows(`SELECT 1 FROM parquet_schema(${sqlString(file.localPath)}) LIMIT 1`).catch((fileError: unknown) => {
        throw new InputError(`${file.key}: cannot read as parquet: ${oneLine(fileError)}`, { cause: fileError });
      });
    }
    throw new InputError(`cannot read parquet input: ${oneLine(error)}`, { cause: error });
  }
  const keyOf = new Map(files.map((file) => [file.localPath, file.key]));
  for (const schema of schemas) checkRequiredColumns(schema.names, keyOf.get(schema.file_name) ?? schema.file_name, required);
  await engine.createTable(`${rawTable}_files`, [
    { name: 'filename', type: 'VARCHAR', values: files.map((file) => file.localPath) },
    { name: '_source_file', type: 'VARCHAR', values: files.map((file) => file.key) },
    { name: '_partition', type: 'VARCHAR', values: files.map((file) => partitionOf(file.key)) },
  ]);
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(rawTable)} AS
    SELECT * FROM read_parquet(${pathList}, filename = true, file_row_number = true, union_by_name = true, hive_partitioning = false)`);
  const columns = (await engine.columnNames(rawTable)).filter((name) => name !== 'filename' && name !== 'file_row_number');
  const textColumns = columns.map((name) => `CAST(r.${sqlIdentifier(name)} AS VARCHAR) AS ${sqlIdentifier(name)}`).join(', ');
  return `SELECT ${textColumns}, f._source_file, f._partition, r.file_row_number + 1 AS _source_row
    FROM ${sqlIdentifier(rawTable)} r JOIN ${sqlIdentifier(`${rawTable}_files`)} f USING (filename)`;
}

/** The folder of a file's key, e.g. `bronze/rides/date=2024-01-01/`: the partition its rows belong to. */
function partitionOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

function checkRequiredColumns(found: string[], key: string, required: readonly string[]): void {
  const missing = required.filter((name) => !found.includes(name));
  if (missing.length > 0) {
    throw new InputError(`${key}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found: ${found.join(', ') || 'none'})`);
  }
}
