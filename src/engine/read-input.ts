import { InputError, oneLine } from '../errors.js';
import type { Lake, LakeObject } from '../lake/index.js';
import { sqlIdentifier, type Engine } from './duckdb-engine.js';

export type InputFormat = 'auto' | 'csv' | 'parquet' | 'json';

export interface ReadInputOptions {
  /** Name of the DuckDB view to create; its helper tables and variables start with it. */
  table: string;
  format: InputFormat;
  /** Columns every input file must have. */
  requiredColumns: readonly string[];
}

/** A column of the input as the files give it: its name and DuckDB type (`DOUBLE`, `VARCHAR`, ...). */
export interface InputColumn {
  name: string;
  type: string;
}

/** A file rows were read from. */
export interface SourceFile {
  /** Lake key. */
  key: string;
  /** Folder of the key, e.g. `bronze/rides/date=2024-01-01/`: the partition its rows belong to. */
  partition: string;
}

/**
 * Raw input rows as the files hold them. Parquet files, read together in one scan, and a lone
 * JSON lines file keep their own types; CSV is read as text, so that validation, not the reader,
 * decides what is bad and can quote the bad value; files of different formats together are all
 * text. Each row carries `_file` (index into `files`) and `_source_row` (1-based record number
 * within its file). Lines the CSV reader could not split into columns are in `malformedTable`
 * with `_file`, `_source_row` (the line number), `_raw_line` and `_reason`.
 */
export interface InputTable {
  /** A view of the rows, in `files` order and row order within each file. */
  table: string;
  /** Its columns as read, without `_file` and `_source_row`. */
  columns: InputColumn[];
  malformedTable: string;
  /** Files read, ordered by partition then key, so that a partition's rows are consecutive. */
  files: SourceFile[];
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

/** The folder of a file's key, e.g. `bronze/rides/date=2024-01-01/`: the partition its rows belong to. */
function partitionOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** Byte order of UTF-8 keys, as DuckDB and S3 sort them. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Makes the given lake objects one view of raw rows for validation. Zero-byte files are skipped
 * and reported; a file that cannot be read, or lacks a required column, is an InputError naming
 * the file.
 */
export async function readInputTable(engine: Engine, lake: Lake, objects: readonly LakeObject[], options: ReadInputOptions): Promise<InputTable> {
  const { table } = options;
  const emptyFiles = objects.filter((object) => object.size === 0).map((object) => object.key);
  const keys = objects
    .filter((object) => object.size > 0)
    .map((object) => object.key)
    .sort((a, b) => compareKeys(partitionOf(a), partitionOf(b)) || compareKeys(a, b));
  if (keys.length === 0) {
    const what = objects.length === 0 ? 'no files' : `only empty files (${emptyFiles.join(', ')})`;
    throw new InputError(`input has ${what}`);
  }
  const formats = keys.map((key) => formatOf(key, options.format));
  const localPaths = await engine.stage(lake, keys);
  const files = keys.map((key, index) => ({ key, localPath: localPaths[index], format: formats[index] }));

  const malformedTable = `${table}_malformed`;
  await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(malformedTable)} (_file INTEGER, _source_row BIGINT, _raw_line VARCHAR, _reason VARCHAR)`);
  if (files.every((file) => file.format === 'parquet')) await viewOfParquetFiles(engine, table, files, options.requiredColumns);
  else await viewOfEachFile(engine, table, malformedTable, files, options.requiredColumns);

  const described = await engine.rows<{ column_name: string; column_type: string }>(`SELECT column_name, column_type FROM (DESCRIBE ${sqlIdentifier(table)})`);
  const columns = described.filter((column) => column.column_name !== '_file' && column.column_name !== '_source_row').map((column) => ({ name: column.column_name, type: column.column_type }));
  return { table, columns, malformedTable, files: keys.map((key) => ({ key, partition: partitionOf(key) })), emptyFiles };
}

interface StagedFile {
  key: string;
  localPath: string;
  format: FileFormat;
}

/**
 * Parquet files, however many (a day per file over months is common), as one scan in their own
 * types: columns are matched by name and DuckDB widens a column whose type differs between files.
 * The file list is a session variable because a view cannot take bound parameters.
 */
async function viewOfParquetFiles(engine: Engine, table: string, files: StagedFile[], required: readonly string[]): Promise<void> {
  const paths = files.map((file) => file.localPath);
  let schemas: { file_name: string; names: string[] }[];
  try {
    schemas = await engine.rows(`SELECT file_name, list(name) AS names FROM parquet_schema($1) GROUP BY file_name`, [paths]);
  } catch (error) {
    // Find the culprit so that the message names it.
    for (const file of files) {
      await engine.rows(`SELECT 1 FROM parquet_schema($1) LIMIT 1`, [file.localPath]).catch((fileError: unknown) => {
        throw new InputError(`${file.key}: cannot read as parquet: ${oneLine(fileError)}`, { cause: fileError });
      });
    }
    throw new InputError(`cannot read parquet input: ${oneLine(error)}`, { cause: error });
  }
  const keyOf = new Map(files.map((file) => [file.localPath, file.key]));
  for (const schema of schemas) checkRequiredColumns(schema.names, keyOf.get(schema.file_name) ?? schema.file_name, required);
  const filesVariable = `${table}_files`;
  await engine.run(`SET VARIABLE ${sqlIdentifier(filesVariable)} = $1`, [paths]);
  await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(table)} AS
    SELECT * EXCLUDE (file_row_number), CAST(file_index AS INTEGER) AS _file, file_row_number + 1 AS _source_row
    FROM read_parquet(getvariable('${filesVariable}'), file_row_number = true, union_by_name = true, hive_partitioning = false)`);
}

function readerSql(format: FileFormat): string {
  switch (format) {
    case 'csv':
      return `read_csv($1, header = true, all_varchar = true, hive_partitioning = false, store_rejects = true, rejects_table = $3, rejects_scan = $4)`;
    case 'parquet':
      return `read_parquet($1, hive_partitioning = false)`;
    case 'json':
      return `read_json_auto($1, format = 'newline_delimited', hive_partitioning = false)`;
  }
}

/**
 * CSV and JSON files, and Parquet files among them: one table per file (DuckDB keeps CSV rejects
 * only without union_by_name), under one view. A lone file keeps the types it was read with;
 * several are combined as text, so that every file's values reach validation as their own text.
 */
async function viewOfEachFile(engine: Engine, table: string, malformedTable: string, files: StagedFile[], required: readonly string[]): Promise<void> {
  const parts: string[] = [];
  for (const [index, file] of files.entries()) {
    const fileTable = `${table}_${index}`;
    const rejects = `${fileTable}_rejects`;
    // The file's index is stored with its rows: a view could not bind it.
    const params = file.format === 'csv' ? [file.localPath, index, rejects, `${rejects}_scan`] : [file.localPath, index];
    try {
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(fileTable)} AS SELECT *, CAST($2 AS INTEGER) AS _file FROM ${readerSql(file.format)}`, params);
    } catch (error) {
      throw new InputError(`${file.key}: cannot read as ${file.format}: ${oneLine(error)}`, { cause: error });
    }
    const columns = await engine.rows<{ name: string; type: string }>(`SELECT column_name AS name, column_type AS type FROM (DESCRIBE ${sqlIdentifier(fileTable)}) WHERE column_name <> '_file'`);
    checkRequiredColumns(columns.map((column) => column.name), file.key, required);
    const select = columns.map(({ name, type }) => (files.length === 1 || type === 'VARCHAR' ? sqlIdentifier(name) : `CAST(${sqlIdentifier(name)} AS VARCHAR) AS ${sqlIdentifier(name)}`));
    parts.push(`SELECT ${[...select, '_file', 'rowid + 1 AS _source_row'].join(', ')} FROM ${sqlIdentifier(fileTable)}`);
    if (file.format === 'csv') {
      // DuckDB logs one reject per offending column; a line is quarantined once.
      await engine.run(
        `INSERT INTO ${sqlIdentifier(malformedTable)}
        SELECT $1, line, first(csv_line ORDER BY column_idx),
               'malformed CSV line: ' || lower(first(error_type ORDER BY column_idx)) || ' (' || first(error_message ORDER BY column_idx) || ')'
        FROM ${sqlIdentifier(rejects)} GROUP BY line ORDER BY line`,
        [index],
      );
    }
  }
  await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(table)} AS ${parts.join(' UNION ALL BY NAME ')}`);
}

function checkRequiredColumns(found: string[], key: string, required: readonly string[]): void {
  const missing = required.filter((name) => !found.includes(name));
  if (missing.length > 0) {
    throw new InputError(`${key}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found: ${found.join(', ') || 'none'})`);
  }
}
