import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { InputError, oneLine } from '../errors.js';
import type { Lake, LakeObject } from '../lake/index.js';
import type { Engine } from './duckdb-engine.js';
import { sqlIdentifier } from './sql-identifier.js';

export type InputFormat = 'auto' | 'csv' | 'parquet' | 'json';

export interface ReadInputOptions {
  /** Name of the DuckDB view to create; its helper tables and variables start with it. */
  table: string;
  format: InputFormat;
  /** Columns every input file must have. */
  requiredColumns: readonly string[];
  /**
   * Decode every Parquet file in full before reading them together (default true), so that a
   * corrupt one is left out and recorded in `corruptFiles`, and copy their rows into a table, so
   * that every query sees the same values: a file whose statistics belie its data (DuckDB folds
   * filters by statistics) reads differently under different filters. Off, Parquet files are
   * trusted and the table is a view over them: no copy, and a corrupt file fails a query over the
   * input, after which the caller reads again with the check on.
   */
  checkParquet?: boolean;
}

/** A column of the input as the files give it: its name and DuckDB type (`DOUBLE`, `VARCHAR`, ...). */
export interface InputColumn {
  name: string;
  type: string;
}

/** Binds a value into the query being built and returns its placeholder (`$3`). */
export type BindValue = (value: string | number | readonly string[]) => string;

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
 * with `_file`, `_source_row` (its record number, header not counted), `_raw_line` and `_reason`.
 * A file that is corrupt (a gzip failing its CRC or length, a truncated or garbled Parquet file, a
 * file the reader gives up on) is read not at all: it is one record of `malformedTable` with
 * `_source_row` NULL and `_reason` `corrupt file: …`, so that nothing of it is published while the
 * other files proceed.
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
  /** Files not read because they are corrupt: index into `files` and why (one line, lake key named). */
  corruptFiles: { file: number; reason: string }[];
  /**
   * A FROM item (in parentheses) of the rows of files `first`..`last` alone, with the columns and
   * types of `table`, in the same order: what one partition's queries read.
   */
  scanFiles(files: readonly [first: number, last: number], bind: BindValue): string;
}

/** Longest message built from data: a 3 MB field must not become a 3 MB error line. */
const MAX_MESSAGE_CHARS = 300;

/** `text` on one line, at most {@link MAX_MESSAGE_CHARS} characters, an ellipsis marking a cut. */
function capMessage(text: string): string {
  const line = text.replace(/\s*\n\s*/g, ' ').trim();
  return line.length <= MAX_MESSAGE_CHARS ? line : `${line.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
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
 * and reported; a corrupt or unreadable file is left out and recorded in `corruptFiles` (and in
 * `malformedTable` as one record), unless every file is, which is an InputError naming the first;
 * a file lacking a required column is an InputError naming the file.
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
  const corruptFiles: { file: number; reason: string }[] = [];
  for (const [index, file] of files.entries()) {
    const problem = await integrityProblem(engine, file, options.checkParquet ?? true);
    if (problem !== null) corruptFiles.push({ file: index, reason: problem });
  }
  const readable = files.map((file, index) => ({ ...file, index })).filter((file) => !corruptFiles.some((corrupt) => corrupt.file === file.index));
  // Parquet files read in place: their columns, by staged path, for scans of some of them.
  let parquetNames: Map<string, string[]> | null = null;
  if (readable.length > 0) {
    if (readable.every((file) => file.format === 'parquet')) parquetNames = await viewOfParquetFiles(engine, table, readable, options.requiredColumns, options.checkParquet ?? true);
    else if (!(await viewOfOneFeedOfCsvFiles(engine, table, readable, options.requiredColumns))) await viewOfEachFile(engine, table, malformedTable, readable, options.requiredColumns, corruptFiles);
  }
  if (corruptFiles.length === files.length) {
    // No file to take the columns from: nothing can be validated, so the first culprit is the error.
    throw new InputError(corruptFiles[0].reason);
  }
  for (const corrupt of corruptFiles) {
    await engine.run(`INSERT INTO ${sqlIdentifier(malformedTable)} VALUES ($1, NULL, NULL, $2)`, [corrupt.file, capMessage(`corrupt file: ${corrupt.reason}`)]);
  }

  const described = await engine.rows<{ column_name: string; column_type: string }>(`SELECT column_name, column_type FROM (DESCRIBE ${sqlIdentifier(table)})`);
  const columns = described.filter((column) => column.column_name !== '_file' && column.column_name !== '_source_row').map((column) => ({ name: column.column_name, type: column.column_type }));
  const filteredScan = ([first, last]: readonly [number, number], bind: BindValue) => `(SELECT * FROM ${sqlIdentifier(table)} WHERE _file BETWEEN ${bind(first)} AND ${bind(last)})`;
  const scanFiles = parquetNames === null ? filteredScan : parquetScanOfFiles(readable, parquetNames, columns, filteredScan);
  return { table, columns, malformedTable, files: keys.map((key) => ({ key, partition: partitionOf(key) })), emptyFiles, corruptFiles, scanFiles };
}

/** A DuckDB type name that SQL can spell back as it is: no nested type, whose field names come from the data. */
const PLAIN_TYPE = /^[A-Z_ ]+(\(\d+(, ?\d+)?\))?$/;

/**
 * Scans of some Parquet files alone, read in place: a filter on `_file` over the view would still
 * open and read every file of the input, a month of them for each day written. Each column is cast
 * to the view's type (which union_by_name widened over all files) and one the files lack is a
 * typed NULL, so the rows are those of the view. With a nested type among the columns, it filters
 * the view instead (`fallback`).
 */
function parquetScanOfFiles(readable: readonly IndexedFile[], namesByPath: Map<string, string[]>, columns: readonly InputColumn[], fallback: InputTable['scanFiles']): InputTable['scanFiles'] {
  if (!columns.every((column) => PLAIN_TYPE.test(column.type))) return fallback;
  return (files, bind) => {
    const [first, last] = files;
    const scanned = readable.filter((file) => file.index >= first && file.index <= last);
    if (scanned.length === 0) return fallback(files, bind);
    const present = new Set(scanned.flatMap((file) => namesByPath.get(file.localPath) ?? []));
    const select = columns.map(({ name, type }) => `CAST(${present.has(name) ? sqlIdentifier(name) : 'NULL'} AS ${type}) AS ${sqlIdentifier(name)}`);
    return `(${parquetRowsSql(bind(scanned.map((file) => file.localPath)), bind(scanned.map((file) => String(file.index))), select.join(', '))})`;
  };
}

/**
 * Input rows of Parquet files: `select` over their columns, then `_file` (the file's entry in
 * `indexes`, the input's index of each file as text) and `_source_row`. `paths` and `indexes` are
 * SQL expressions of lists, in the same order.
 */
function parquetRowsSql(paths: string, indexes: string, select: string): string {
  return `SELECT ${select}, CAST(${indexes}[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS _file, file_row_number + 1 AS _source_row
    FROM read_parquet(${paths}, file_row_number = true, union_by_name = true, hive_partitioning = false)`;
}

/** A reader's error as one capped line naming the lake key, never the staged copy. */
function describeReadError(file: StagedFile, error: unknown): string {
  return capMessage(`${file.key}: cannot read as ${file.format}: ${oneLine(error).split(file.localPath).join(file.key)}`);
}

/**
 * A second reading of a file the reader refused as a whole, for flaws a line-based reader takes in
 * its stride; returns the `_source_row` expression of its table. JSON lines are read as text lines
 * and parsed one by one: a broken line is quarantined alone, every value is text (so numbers given
 * as strings or numbers both validate). CSV with mixed or stray carriage returns is read again with
 * every CR, CRLF and LF outside quotes as a line end, as RFC 4180 parsers do. Throws when that
 * does not help either.
 */
async function readFlawedFile(engine: Engine, file: IndexedFile, fileTable: string, malformedTable: string, params: (string | number)[]): Promise<string> {
  if (/\.zst$/i.test(file.key)) throw new Error('no second reading');
  const folder = await mkdtemp(path.join(os.tmpdir(), 'detour-lines-'));
  try {
    // A gzip file has passed its integrity check already: its flaws are read from its plain bytes.
    let plainPath = file.localPath;
    if (/\.gz$/i.test(file.key) || (await isGzip(file.localPath))) {
      plainPath = path.join(folder, 'plain');
      await pipeline(createReadStream(file.localPath), createGunzip(), createWriteStream(plainPath));
    }
    if (file.format === 'json') return await readJsonLinesOneByOne(engine, file, plainPath, fileTable, malformedTable);
    if (file.format === 'csv' && (await hasCarriageReturn(plainPath))) {
      const normalized = path.join(folder, 'input.csv');
      await pipeline(createReadStream(plainPath), lineEndsAsLf(), createWriteStream(normalized));
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(fileTable)} AS SELECT *, CAST($2 AS INTEGER) AS _file FROM ${readerSql('csv')}`, [normalized, ...params.slice(1)]);
      return 'source.rowid + 1';
    }
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
  throw new Error('no second reading');
}

/** JSON lines read as text lines and parsed one by one; returns the `_source_row` expression. */
async function readJsonLinesOneByOne(engine: Engine, file: IndexedFile, plainPath: string, fileTable: string, malformedTable: string): Promise<string> {
  const linesTable = `${fileTable}_lines`;
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(linesTable)} AS
    SELECT * FROM (SELECT generate_subscripts(lines, 1) AS _line, unnest(lines) AS line FROM (SELECT string_split(content, chr(10)) AS lines FROM read_text($1)))
    WHERE trim(line, ' \t\r') <> ''`,
    [plainPath],
  );
  // json_type fails on invalid JSON, and AND does not short-circuit.
  const valid = `CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END`;
  await engine.run(
    `INSERT INTO ${sqlIdentifier(malformedTable)}
    SELECT $1, _line, line, ${cappedSql(`'malformed JSON line: ' || CASE WHEN json_valid(line) THEN 'not an object' ELSE 'not valid JSON' END`)}
    FROM ${sqlIdentifier(linesTable)} WHERE NOT (${valid}) ORDER BY _line`,
    [file.index],
  );
  const keys = await engine.rows<{ key: string }>(
    `SELECT key FROM (SELECT unnest(json_keys(line)) AS key, _line FROM ${sqlIdentifier(linesTable)} WHERE ${valid}) GROUP BY key ORDER BY min(_line), key`,
  );
  if (keys.length === 0) throw new Error('no JSON object line');
  const paths = keys.map(({ key }) => `$."${key.replace(/["\\]/g, (c) => `\\${c}`)}"`);
  const select = keys.map(({ key }, k) => `json_extract_string(line, $${k + 2}) AS ${sqlIdentifier(key)}`);
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(fileTable)} AS SELECT ${select.join(', ')}, CAST($1 AS INTEGER) AS _file, _line FROM ${sqlIdentifier(linesTable)} WHERE ${valid} ORDER BY _line`,
    [file.index, ...paths],
  );
  return 'source._line';
}

async function hasCarriageReturn(localPath: string): Promise<boolean> {
  for await (const chunk of createReadStream(localPath)) if ((chunk as Buffer).includes(0x0d)) return true;
  return false;
}

/** Rewrites CRLF and lone CR outside double quotes as LF; quoted text is kept as it is. */
function lineEndsAsLf(): Transform {
  let quoted = false;
  let pendingCr = false;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const out: number[] = [];
      for (const byte of chunk) {
        if (pendingCr) {
          pendingCr = false;
          out.push(0x0a);
          if (byte === 0x0a) continue;
        }
        if (byte === 0x22) quoted = !quoted;
        if (byte === 0x0d && !quoted) pendingCr = true;
        else out.push(byte);
      }
      done(null, Buffer.from(out));
    },
    flush(done) {
      done(null, pendingCr ? Buffer.from([0x0a]) : Buffer.alloc(0));
    },
  });
}

/** Starts with the gzip magic bytes. */
async function isGzip(localPath: string): Promise<boolean> {
  const handle = await open(localPath, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Why a file cannot be trusted, or null. A gzip member is inflated to its end, which checks its
 * CRC32 and length (DuckDB stops quietly at a truncated stream); with `checkParquet`, a Parquet
 * file is decoded in full (every column hashed), so bit flips in its metadata or pages show here,
 * not halfway through validation. CSV and JSON are checked by reading them.
 */
async function integrityProblem(engine: Engine, file: StagedFile, checkParquet: boolean): Promise<string | null> {
  try {
    if (/\.gz$/i.test(file.key) || (await isGzip(file.localPath))) {
      await pipeline(createReadStream(file.localPath), createGunzip(), new Writable({ write: (_chunk, _encoding, done) => done() }));
    }
    if (file.format === 'parquet' && checkParquet) {
      await engine.rows(`SELECT count(*) AS n FROM read_parquet($1, hive_partitioning = false) AS t WHERE hash(t) IS NULL`, [file.localPath]);
    }
    return null;
  } catch (error) {
    return describeReadError(file, error);
  }
}

interface StagedFile {
  key: string;
  localPath: string;
  format: FileFormat;
}

/** A staged file with its index into the input's `files`. */
interface IndexedFile extends StagedFile {
  index: number;
}

/**
 * Parquet files, however many (a day per file over months is common), as one scan in their own
 * types: columns are matched by name and DuckDB widens a column whose type differs between files.
 * The file list is a session variable because a view cannot take bound parameters. With `copied`,
 * the view is over a table the scan's rows were copied into (see `checkParquet`). Returns each
 * file's column names by staged path when the view reads the files in place, else null.
 */
async function viewOfParquetFiles(engine: Engine, table: string, files: IndexedFile[], required: readonly string[], copied: boolean): Promise<Map<string, string[]> | null> {
  const paths = files.map((file) => file.localPath);
  // The first schema element is the root (`duckdb_schema`, `spark_schema`, ...), not a column.
  const schemas = await engine.rows<{ file_name: string; names: string[] }>(`SELECT file_name, list(name)[2:] AS names FROM parquet_schema($1) GROUP BY file_name`, [paths]);
  const keyOf = new Map(files.map((file) => [file.localPath, file.key]));
  for (const schema of schemas) checkRequiredColumns(schema.names, keyOf.get(schema.file_name) ?? schema.file_name, required);
  const filesVariable = `${table}_files`;
  const indexesVariable = `${table}_file_indexes`;
  await engine.run(`SET VARIABLE ${sqlIdentifier(filesVariable)} = $1`, [paths]);
  // Corrupt files are left out of the scan, so its file_index maps back to the input's files.
  await engine.run(`SET VARIABLE ${sqlIdentifier(indexesVariable)} = $1`, [files.map((file) => String(file.index))]);
  const scan = parquetRowsSql(`getvariable('${filesVariable}')`, `getvariable('${indexesVariable}')`, '* EXCLUDE (file_row_number)');
  if (!copied) {
    await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(table)} AS ${scan}`);
    return new Map(schemas.map((schema) => [schema.file_name, schema.names]));
  }
  const rowsTable = `${table}_rows`;
  await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(rowsTable)} AS ${scan}`);
  await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(table)} AS SELECT * FROM ${sqlIdentifier(rowsTable)}`);
  return null;
}

/** Longest header line compared: a longer one is read file by file. */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * The first line of a plain (uncompressed) file with its line end, or null when the file is
 * compressed or its first line is longer than {@link MAX_HEADER_BYTES}.
 */
async function plainHeaderLine(localPath: string): Promise<Buffer | null> {
  const handle = await open(localPath, 'r');
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(MAX_HEADER_BYTES), 0, MAX_HEADER_BYTES, 0);
    const head = buffer.subarray(0, bytesRead);
    const compressed = (head[0] === 0x1f && head[1] === 0x8b) || head.subarray(0, 4).equals(ZSTD_MAGIC);
    const end = head.indexOf(0x0a);
    return compressed || end < 0 ? null : head.subarray(0, end + 1);
  } finally {
    await handle.close();
  }
}

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

/**
 * Several plain CSV files of one feed (the same header line, byte for byte, line end included) in
 * one scan, as a day per file over months is common: reading them one by one costs a few
 * milliseconds of sniffing and bookkeeping each. Returns false, leaving nothing behind, when that
 * does not fit: a file compressed or with another header, a line the reader rejects or an error
 * while reading. Those are read file by file ({@link viewOfEachFile}), which quarantines malformed
 * lines and gives flawed files their second reading; a clean scan gives the same rows in the same
 * order with the same record numbers.
 */
async function viewOfOneFeedOfCsvFiles(engine: Engine, table: string, files: IndexedFile[], required: readonly string[]): Promise<boolean> {
  if (files.length < 2 || files.some((file) => file.format !== 'csv' || /\.(gz|zst)$/i.test(file.key))) return false;
  const headers = await Promise.all(files.map((file) => plainHeaderLine(file.localPath)));
  const [first] = headers;
  if (first === null || headers.some((header) => header === null || !header.equals(first))) return false;
  const scanTable = `${table}_csv`;
  const rejects = `${scanTable}_rejects`;
  const dropScan = () => engine.run(`DROP TABLE IF EXISTS ${sqlIdentifier(scanTable)}; DROP TABLE IF EXISTS ${sqlIdentifier(rejects)}; DROP TABLE IF EXISTS ${sqlIdentifier(`${rejects}_scan`)}`);
  try {
    // `_file` is the input's index of the file; `_scan_file` its place in this scan. The first file
    // alone is sniffed: every column is text and every file has its header, so sniffing more (10 by
    // default) would only infer types that are not used, at ~2 ms a file.
    await engine.run(
      `CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(scanTable)} AS
      SELECT *, CAST($2[CAST(file_index AS BIGINT) + 1] AS INTEGER) AS _file, CAST(file_index AS INTEGER) AS _scan_file
      FROM read_csv($1, header = true, all_varchar = true, files_to_sniff = 1, hive_partitioning = false, store_rejects = true, rejects_table = $3, rejects_scan = $4)`,
      [files.map((file) => file.localPath), files.map((file) => String(file.index)), rejects, `${rejects}_scan`],
    );
  } catch {
    await dropScan();
    return false;
  }
  const [{ rejected }] = await engine.rows<{ rejected: number }>(`SELECT count(*) AS rejected FROM ${sqlIdentifier(rejects)}`);
  if (rejected > 0) {
    await dropScan();
    return false;
  }
  const columns = (await engine.columnNames(scanTable)).filter((name) => name !== '_file' && name !== '_scan_file');
  checkRequiredColumns(columns, files[0].key, required);
  // Rows are stored in scan order, files one after another: a row's record number is its row id
  // less that of its file's first row.
  const firstRows = Array.from({ length: files.length }, () => '0');
  const starts = await engine.rows<{ file: number; first: number }>(`SELECT _scan_file AS file, min(rowid) AS first FROM ${sqlIdentifier(scanTable)} GROUP BY ALL`);
  for (const { file, first } of starts) firstRows[file] = String(first);
  const firstRowsVariable = `${table}_first_rows`;
  await engine.run(`SET VARIABLE ${sqlIdentifier(firstRowsVariable)} = $1`, [firstRows]);
  await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(table)} AS
    SELECT * EXCLUDE (_scan_file), rowid + 1 - CAST(getvariable('${firstRowsVariable}')[_scan_file + 1] AS BIGINT) AS _source_row FROM ${sqlIdentifier(scanTable)}`);
  return true;
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
async function viewOfEachFile(
  engine: Engine,
  table: string,
  malformedTable: string,
  files: IndexedFile[],
  required: readonly string[],
  corruptFiles: { file: number; reason: string }[],
): Promise<void> {
  const parts: string[] = [];
  for (const file of files) {
    const { index } = file;
    const fileTable = `${table}_${index}`;
    const rejects = `${fileTable}_rejects`;
    // The file's index is stored with its rows: a view could not bind it.
    const params = file.format === 'csv' ? [file.localPath, index, rejects, `${rejects}_scan`] : [file.localPath, index];
    let sourceRow = 'source.rowid + 1';
    try {
      await engine.run(`CREATE OR REPLACE TEMP TABLE ${sqlIdentifier(fileTable)} AS SELECT *, CAST($2 AS INTEGER) AS _file FROM ${readerSql(file.format)}`, params);
    } catch (error) {
      const fallback = await readFlawedFile(engine, file, fileTable, malformedTable, params).catch(() => null);
      if (fallback === null) {
        corruptFiles.push({ file: index, reason: describeReadError(file, error) });
        continue;
      }
      sourceRow = fallback;
    }
    const columns = await engine.rows<{ name: string; type: string }>(
      `SELECT column_name AS name, column_type AS type FROM (DESCRIBE ${sqlIdentifier(fileTable)}) WHERE column_name NOT IN ('_file', '_line')`,
    );
    checkRequiredColumns(columns.map((column) => column.name), file.key, required);
    const select = columns.map(({ name, type }) => (files.length === 1 || type === 'VARCHAR' ? sqlIdentifier(name) : `CAST(${sqlIdentifier(name)} AS VARCHAR) AS ${sqlIdentifier(name)}`));
    if (file.format === 'csv') {
      // DuckDB logs one reject per offending column and numbers it by line, header included; a
      // line is quarantined once, numbered as a record (header not counted).
      await engine.run(
        `INSERT INTO ${sqlIdentifier(malformedTable)}
        SELECT $1, line - 1, first(csv_line ORDER BY column_idx),
               ${cappedSql(`'malformed CSV line: ' || lower(first(error_type ORDER BY column_idx)) || ' (' || first(error_message ORDER BY column_idx) || ')'`)}
        FROM ${sqlIdentifier(rejects)} GROUP BY line ORDER BY line`,
        [index],
      );
      // Parsed row k is the k-th record that is not malformed: k plus the malformed records m_i
      // (ranked i) with m_i - i < k, i.e. with fewer than k good records before them.
      const [{ malformed }] = await engine.rows<{ malformed: number }>(`SELECT count(*) AS malformed FROM ${sqlIdentifier(malformedTable)} WHERE _file = $1`, [index]);
      if (malformed > 0) {
        sourceRow = `rowid + 1 + (SELECT count(*) FROM (SELECT _source_row - row_number() OVER (ORDER BY _source_row) AS good_before FROM ${sqlIdentifier(malformedTable)} WHERE _file = ${Number(index)}) WHERE good_before < source.rowid + 1)`;
      }
    }
    parts.push(`SELECT ${[...select, '_file', `${sourceRow} AS _source_row`].join(', ')} FROM ${sqlIdentifier(fileTable)} AS source`);
  }
  if (parts.length === 0) return;
  await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(table)} AS ${parts.join(' UNION ALL BY NAME ')}`);
}

/** SQL text capped at {@link MAX_MESSAGE_CHARS} characters, an ellipsis marking a cut. */
function cappedSql(text: string): string {
  return `(CASE WHEN length(${text}) > ${MAX_MESSAGE_CHARS} THEN left(${text}, ${MAX_MESSAGE_CHARS - 1}) || '…' ELSE ${text} END)`;
}

function checkRequiredColumns(found: string[], key: string, required: readonly string[]): void {
  const missing = required.filter((name) => !found.includes(name));
  if (missing.length > 0) {
    throw new InputError(`${key}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (found: ${found.join(', ') || 'none'})`);
  }
}
