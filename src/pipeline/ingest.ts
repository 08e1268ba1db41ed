import { createReadStream, createWriteStream } from 'node:fs';
import { appendFile, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { openEngine, sqlIdentifier, type Engine, type SqlParams } from '../engine/index.js';
import { InputError, NotFoundError, oneLine } from '../errors.js';
import { FsLake, partitionPrefix, type Lake } from '../lake/index.js';
import { sha256OfFile } from './hashing.js';

/** One landed file, as listed in a partition's `_manifest.json`. */
export interface ManifestEntry {
  /** Object name inside the partition. */
  file: string;
  /** Where it came from (absolute path). */
  source: string;
  size: number;
  sha256: string;
  ingestedAt: string;
  /** Split from a larger file by `--partition-by`: that file's sha256. */
  sourceSha256?: string;
  /** Split by `--partition-by`: the source's rows in this partition. */
  rows?: number;
}

export interface IngestResult {
  key: string;
  entry: ManifestEntry;
  /** False when the same bytes were already there: ingesting twice is a no-op. */
  ingested: boolean;
}

const MANIFEST = '_manifest.json';
const RAW_FILE = /\.(csv|tsv|txt|json|jsonl|ndjson|parquet)(\.gz|\.zst)?$/i;

async function readManifest(lake: Lake, key: string): Promise<ManifestEntry[]> {
  try {
    return JSON.parse((await lake.get(key)).toString()) as ManifestEntry[];
  } catch (error) {
    if (error instanceof NotFoundError) return [];
    throw error;
  }
}

/** The raw file to land, checked: it exists, is a file and has a raw format's name. */
async function rawSource(dataset: string, file: string): Promise<{ source: string; name: string; size: number }> {
  if (!/^[a-z][a-z0-9_]*$/.test(dataset)) throw new InputError(`dataset "${dataset}" must be lower_snake_case`);
  const source = path.resolve(file);
  const info = await stat(source).catch((error: unknown) => {
    throw new InputError(`--file ${file}: file not found`, { cause: error });
  });
  if (!info.isFile()) throw new InputError(`--file ${file} is not a file`);
  const name = path.basename(source);
  if (!RAW_FILE.test(name)) throw new InputError(`--file ${name}: expected CSV, JSON lines or Parquet (optionally .gz)`);
  return { source, name, size: info.size };
}

/** A local file about to land in a partition, next to what the partition's manifest says is there. */
interface Landing {
  prefix: string;
  localPath: string;
  entry: ManifestEntry;
  manifest: ManifestEntry[];
  /** The manifest's entry of the same name, if any. */
  existing?: ManifestEntry;
  /** The same bytes are already there: nothing to do. */
  unchanged: boolean;
}

async function prepareLanding(lake: Lake, prefix: string, localPath: string, entry: ManifestEntry): Promise<Landing> {
  const manifest = await readManifest(lake, `${prefix}${MANIFEST}`);
  const existing = manifest.find((other) => other.file === entry.file);
  const unchanged = existing?.sha256 === entry.sha256 && (await lake.exists(`${prefix}${entry.file}`));
  return { prefix, localPath, entry, manifest, existing, unchanged };
}

/** Refuses, before anything is written, when any landing would overwrite different content without `replace`. */
function refuseConflicts(landings: readonly Landing[], replace: boolean | undefined): void {
  const conflicts = replace ? [] : landings.filter((landing) => landing.existing !== undefined && landing.existing.sha256 !== landing.entry.sha256);
  if (conflicts.length === 0) return;
  const [{ prefix, entry, existing }] = conflicts;
  const others = conflicts.length > 1 ? ` (and ${conflicts.length - 1} more partition${conflicts.length > 2 ? 's' : ''})` : '';
  throw new InputError(`${prefix}${entry.file} already holds different content (sha256 ${existing?.sha256.slice(0, 12)}…)${others}; pass --replace to overwrite it`);
}

async function land(lake: Lake, landing: Landing): Promise<IngestResult> {
  const key = `${landing.prefix}${landing.entry.file}`;
  if (landing.unchanged && landing.existing) return { key, entry: landing.existing, ingested: false };
  await lake.putFile(landing.localPath, key);
  // The manifest is written after the data, so an entry never names a file that is not there.
  const entries = [...landing.manifest.filter((other) => other.file !== landing.entry.file), landing.entry].sort((a, b) => a.file.localeCompare(b.file));
  await lake.put(`${landing.prefix}${MANIFEST}`, `${JSON.stringify(entries, null, 2)}\n`);
  return { key, entry: landing.entry, ingested: true };
}

/**
 * Lands a raw file unchanged in `bronze/<dataset>/date=D/` and records it in the partition's
 * `_manifest.json` (source, size, sha256, time). The same bytes again are a no-op; different
 * bytes under an existing name are refused unless `replace` is set.
 */
export async function ingestFile(
  lake: Lake,
  options: { dataset: string; file: string; logicalDate: string; replace?: boolean; now?: Date },
): Promise<IngestResult> {
  const { source, name, size } = await rawSource(options.dataset, options.file);
  const entry: ManifestEntry = { file: name, source, size, sha256: await sha256OfFile(source), ingestedAt: (options.now ?? new Date()).toISOString() };
  const landing = await prepareLanding(lake, partitionPrefix('bronze', options.dataset, options.logicalDate), source, entry);
  refuseConflicts([landing], options.replace);
  return land(lake, landing);
}

export interface PartitionedIngestOptions {
  dataset: string;
  file: string;
  /** A timestamp or date column: each row lands in the partition of its calendar date as written (no time zone conversion). */
  partitionBy: string;
  /** Overwrite partition files of the same name that hold different content. */
  replace?: boolean;
  /** Land the rows that have a date and list the others under `_unplaced/`, instead of refusing the file. */
  skipUnplaceable?: boolean;
  now?: Date;
}

export interface PartitionIngestResult extends IngestResult {
  logicalDate: string;
}

/** Why a row has no partition. */
export type UnplaceableReason = 'empty' | 'not a date' | 'not a JSON object';

/** A row that could not be placed: its line (CSV, JSON lines; a CSV header is line 1) or its row (Parquet), value and reason. */
export type UnplacedRow = ({ line: number } | { row: number }) & { value: string | null; reason: UnplaceableReason };

/** `bronze/<dataset>/_unplaced/<file>.json`: the rows of a source that `--skip-unplaceable` left out of every partition. */
export interface UnplacedReport {
  source: string;
  sourceSha256: string;
  column: string;
  /** The unplaced rows themselves, in the source's format (header and lines as they were). */
  file: string;
  rows: number;
  unplaced: UnplacedRow[];
  ingestedAt: string;
}

export interface PartitionedIngestResult {
  source: string;
  sourceSha256: string;
  /** One per date of the column, in date order. */
  partitions: PartitionIngestResult[];
  /** Rows left out with `skipUnplaceable`: how many, and the keys of their file and report. */
  unplaced: { rows: number; key: string; reportKey: string } | null;
}

type SourceFormat = 'csv' | 'json' | 'parquet';

function sourceFormat(name: string): SourceFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.zst') || lower.endsWith('.parquet.gz')) {
    throw new InputError(`--file ${name}: --partition-by reads plain or .gz CSV and JSON lines, and plain Parquet; decompress it first`);
  }
  const base = lower.replace(/\.gz$/, '');
  if (base.endsWith('.parquet')) return 'parquet';
  if (base.endsWith('.json') || base.endsWith('.jsonl') || base.endsWith('.ndjson')) return 'json';
  return 'csv';
}

/** Partition targets: a date, or the source's unplaceable rows. */
const UNPLACED = '_unplaced';

/** Never inside a line of text, so DuckDB's CSV reader yields each line whole. */
const NO_DELIMITER = '\x01\x02\x03\x04';

/**
 * The date a value was written with, as SQL over `valueSql` (VARCHAR): the value must read as a
 * timestamp (as the clean step reads it), and its leading `YYYY-MM-DD` is its date, so an offset
 * such as `+05:00` never moves a row to another day.
 */
function writtenDateSql(valueSql: string): string {
  return `CASE WHEN TRY_CAST(trim(${valueSql}) AS TIMESTAMP) IS NOT NULL
    THEN CAST(TRY_CAST(regexp_extract(trim(${valueSql}), '^([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})', 1) AS DATE) AS VARCHAR) END`;
}

/**
 * Creates `ingest_dated`: each row's `position` (its first line, or its Parquet row), `last_line`,
 * `value`, `date` (null when it cannot be placed) and `reason`. `valuesSql` gives position,
 * last_line, value and `is_row` (false for a line that is no row at all: a JSON line that is no
 * object); `dateSql` computes the date over its columns.
 */
async function createDatedTable(engine: Engine, valuesSql: string, dateSql: string, params: SqlParams = []): Promise<void> {
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ingest_dated AS
     WITH dated AS (SELECT position, last_line, value, is_row, ${dateSql} AS date FROM (${valuesSql}))
     SELECT position, last_line, value, date,
       CASE WHEN date IS NOT NULL THEN NULL WHEN NOT is_row THEN 'not a JSON object' WHEN trim(coalesce(value, '')) = '' THEN 'empty' ELSE 'not a date' END AS reason
     FROM dated`,
    params,
  );
}

/** RE2 pattern of one CSV field preceded by the delimiter (prepend one to the line): quoted, or up to the next delimiter. */
function csvFieldPattern(delimiter: string, quote: string, escape: string): string {
  const literal = (text: string) => text.replace(/[\\^$.*+?()[\]{}|-]/g, '\\$&');
  const [d, q, e] = [literal(delimiter), literal(quote), literal(escape)];
  if (quote === '') return `${d}([^${d}]*)`;
  const quoted = escape === '' || escape === quote ? `${q}(?:[^${q}]|${q}${q})*${q}` : `${q}(?:[^${q}${e}]|${e}.)*${q}`;
  return `${d}(${quoted}|[^${d}]*)`;
}

function unquote(field: string, quote: string): string {
  return quote !== '' && field.length >= 2 && field.startsWith(quote) && field.endsWith(quote) ? field.slice(1, -1).replaceAll(quote + quote, quote) : field;
}

/** What DuckDB found in a text source: table `ingest_dated` plus what the byte splitter needs. */
interface TextLayout {
  /** Lines copied to the top of every partition file (CSV: anything before the header, and the header). */
  headerLines: number;
  /** Lines DuckDB counted, to check that the splitter counts the same. */
  lines: number;
}

async function readLines(engine: Engine, localPath: string, name: string): Promise<number> {
  try {
    // new_line '\r\n' ends a line at \r\n or \n; the splitter keeps either ending as it was.
    await engine.run(
      `CREATE OR REPLACE TEMP TABLE ingest_lines AS SELECT row_number() OVER () AS line, text
       FROM read_csv($1, columns = {'text': 'VARCHAR'}, header = false, auto_detect = false, hive_partitioning = false, delim = $2, quote = '', escape = '', new_line = $3, strict_mode = false)`,
      [localPath, NO_DELIMITER, '\\r\\n'],
    );
  } catch (error) {
    throw new InputError(`--file ${name}: cannot read its lines: ${oneLine(error)}`, { cause: error });
  }
  const [{ lines }] = await engine.rows<{ lines: number }>('SELECT count(*) AS lines FROM ingest_lines');
  return lines;
}

/**
 * Dates each CSV record into `ingest_dated` (position = its first line, last_line, value, date, reason).
 * DuckDB's sniffer finds the dialect the clean step will read the file with; a quoted field may
 * span lines, so records are assembled from lines by quote parity, when any line has an odd count.
 */
async function dateCsvLines(engine: Engine, localPath: string, name: string, column: string): Promise<TextLayout> {
  let dialect: { Delimiter: string; Quote: string; Escape: string; SkipRows: number };
  try {
    [dialect] = await engine.rows(`SELECT Delimiter, Quote, Escape, SkipRows FROM sniff_csv($1)`, [localPath]);
  } catch (error) {
    throw new InputError(`--file ${name}: cannot read as CSV: ${oneLine(error)}`, { cause: error });
  }
  const [delimiter, quote, escape] = [dialect.Delimiter, dialect.Quote, dialect.Escape].map((text) => (text === '(empty)' ? '' : text));
  if (delimiter.length !== 1) throw new InputError(`--file ${name}: --partition-by needs a one-character CSV delimiter, found "${delimiter}"`);
  const lines = await readLines(engine, localPath, name);
  const headerLines = dialect.SkipRows + 1;
  const pattern = csvFieldPattern(delimiter, quote, escape);
  const [header] = await engine.rows<{ fields: string[] | null }>('SELECT regexp_extract_all($1 || text, $2, 1) AS fields FROM ingest_lines WHERE line = $3', [delimiter, pattern, headerLines]);
  const names = (header?.fields ?? []).map((field) => unquote(field, quote));
  const index = names.indexOf(column);
  if (index === -1) throw new InputError(`--file ${name}: no column ${column} (columns: ${names.join(', ') || 'none'})`);

  const quotesSql = `length(coalesce(text, '')) - length(replace(coalesce(text, ''), $1, ''))`;
  const [{ multiline }] =
    quote === '' ? [{ multiline: false }] : await engine.rows<{ multiline: boolean | null }>(`SELECT bool_or((${quotesSql}) % 2 = 1) AS multiline FROM ingest_lines WHERE line > $2`, [quote, headerLines]);
  // $1 quote, $2 header lines, $3 delimiter, $4 field pattern, $5 column index (1-based).
  const recordsSql = multiline
    ? `WITH parity AS (
         SELECT line, text, coalesce(sum(${quotesSql}) OVER (ORDER BY line ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) % 2 = 1 AS continues
         FROM ingest_lines WHERE line > $2),
       started AS (SELECT line, text, max(CASE WHEN continues THEN NULL ELSE line END) OVER (ORDER BY line ROWS UNBOUNDED PRECEDING) AS first_line FROM parity)
       SELECT first_line, max(line) AS last_line, string_agg(coalesce(text, ''), E'\\n' ORDER BY line) AS text FROM started GROUP BY first_line`
    : `SELECT line AS first_line, line AS last_line, text FROM ingest_lines WHERE line > $2`;
  const rawValueSql = `CASE WHEN $1 = '' OR strpos(text, $1) = 0 THEN split_part(text, $3, $5) ELSE regexp_extract_all($3 || text, $4, 1)[$5] END`;
  const valueSql = `CASE WHEN $1 <> '' AND length(raw) >= 2 AND starts_with(raw, $1) AND ends_with(raw, $1) THEN replace(raw[2:-2], $1 || $1, $1) ELSE raw END`;
  await createDatedTable(
    engine,
    `WITH records AS (${recordsSql}),
     raw_values AS (SELECT first_line, last_line, ${rawValueSql} AS raw FROM records WHERE trim(coalesce(text, '')) <> '')
     SELECT first_line AS position, last_line, ${valueSql} AS value, true AS is_row FROM raw_values`,
    writtenDateSql('value'),
    [quote, headerLines, delimiter, pattern, index + 1],
  );
  return { headerLines, lines };
}

/** Dates each JSON line into `ingest_dated`; a line that is no JSON object cannot be placed. */
async function dateJsonLines(engine: Engine, localPath: string, name: string, column: string): Promise<TextLayout> {
  const lines = await readLines(engine, localPath, name);
  const pointer = `/${column.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  await createDatedTable(
    engine,
    `WITH objects AS (SELECT line, text, CASE WHEN json_valid(text) THEN json_type(text) = 'OBJECT' ELSE false END AS is_row FROM ingest_lines WHERE trim(coalesce(text, '')) <> '')
     SELECT line AS position, line AS last_line, CASE WHEN is_row THEN json_extract_string(text, $1) END AS value, is_row FROM objects`,
    writtenDateSql('value'),
    [pointer],
  );
  return { headerLines: 0, lines };
}

/** Dates each Parquet row into `ingest_dated` and keeps the rows, sorted by date, in `ingest_rows`. */
async function dateParquetRows(engine: Engine, localPath: string, name: string, column: string): Promise<void> {
  let names: string[];
  try {
    names = (await engine.rows<{ column_name: string }>('SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet($1, hive_partitioning = false))', [localPath])).map((row) => row.column_name);
  } catch (error) {
    throw new InputError(`--file ${name}: cannot read as parquet: ${oneLine(error)}`, { cause: error });
  }
  if (!names.includes(column)) throw new InputError(`--file ${name}: no column ${column} (columns: ${names.join(', ')})`);
  // A TIMESTAMPTZ is an instant; its date is the one in UTC.
  await engine.run("SET TimeZone = 'UTC'");
  const valueSql = `CAST(${sqlIdentifier(column)} AS VARCHAR)`;
  // Sorted by date, so that each partition's export reads only its own row groups.
  await engine.run(
    `CREATE OR REPLACE TEMP TABLE ingest_rows AS
     SELECT *, ${writtenDateSql(valueSql)} AS __detour_date FROM read_parquet($1, file_row_number = true, hive_partitioning = false) ORDER BY __detour_date, file_row_number`,
    [localPath],
  );
  await createDatedTable(
    engine,
    `SELECT file_row_number + 1 AS position, file_row_number + 1 AS last_line, ${valueSql} AS value, true AS is_row, __detour_date FROM ingest_rows`,
    '__detour_date',
  );
}

/** Consecutive lines `firstLine..lastLine` (1-based) that go to one target. */
interface LineRun {
  firstLine: number;
  lastLine: number;
  target: string;
}

/** Bytes buffered over all targets before they are appended to their files. */
const FLUSH_BYTES = 32 * 1024 * 1024;
/** Runs fetched from DuckDB at a time: a file in no date order has about one run per line. */
const RUNS_PER_PAGE = 100_000;

/**
 * Copies every line of `input` byte for byte (line endings included) to the file of its run's
 * target, each file starting with the header lines; lines in no run (blank lines) are left out.
 * Works on buffers, never strings, and appends in large batches, so any number of targets is
 * fine. `nextRuns` gives the runs in line order, a page at a time, then none. Returns the
 * number of lines seen.
 */
async function splitLines(input: AsyncIterable<Buffer>, headerLines: number, nextRuns: () => Promise<LineRun[]>, fileOf: (target: string) => string): Promise<number> {
  const header: Buffer[] = [];
  const pending = new Map<string, Buffer[]>();
  const started = new Set<string>();
  let pendingBytes = 0;
  const flush = async () => {
    for (const [target, parts] of pending) {
      await appendFile(fileOf(target), Buffer.concat(started.has(target) ? parts : [...header, ...parts]));
      started.add(target);
    }
    pending.clear();
    pendingBytes = 0;
  };
  let runs = await nextRuns();
  let runIndex = 0;
  let line = 1;
  let lastByte = 10;
  for await (const chunk of input) {
    let position = 0;
    while (position < chunk.length) {
      while (runIndex < runs.length && runs[runIndex].lastLine < line) runIndex++;
      if (runIndex === runs.length && runs.length > 0) {
        runs = await nextRuns();
        runIndex = 0;
        continue;
      }
      const run: LineRun | undefined = runs[runIndex];
      const inRun = run !== undefined && run.firstLine <= line;
      const isHeader = line <= headerLines;
      // The last line that goes where the current one goes.
      const through = isHeader ? headerLines : inRun ? run.lastLine : run !== undefined ? run.firstLine - 1 : Infinity;
      let end = position;
      while (line <= through) {
        const newline = chunk.indexOf(10, end);
        if (newline === -1) {
          end = chunk.length;
          break;
        }
        end = newline + 1;
        line++;
      }
      const bytes = chunk.subarray(position, end);
      if (isHeader) header.push(bytes);
      else if (inRun) {
        const parts = pending.get(run.target);
        if (parts) parts.push(bytes);
        else pending.set(run.target, [bytes]);
        pendingBytes += bytes.length;
      }
      position = end;
    }
    lastByte = chunk.at(-1) ?? lastByte;
    if (pendingBytes >= FLUSH_BYTES) await flush();
  }
  await flush();
  // A last line without a line ending counts too.
  return lastByte === 10 ? line - 1 : line;
}

/** The source's bytes, decompressed when it is gzipped. */
function sourceBytes(source: string): AsyncIterable<Buffer> {
  const file = createReadStream(source, { highWaterMark: 1024 * 1024 });
  if (!source.toLowerCase().endsWith('.gz')) return file;
  const gunzip = createGunzip();
  file.on('error', (error) => gunzip.destroy(error));
  return file.pipe(gunzip);
}

/** The source's rows split by date into local files, with their counts and the rows that have no date. */
interface DateSplit {
  /** Local file per target (a date, or {@link UNPLACED}). */
  files: Map<string, string>;
  /** Rows per date, in date order. */
  rows: Map<string, number>;
  unplaced: UnplacedRow[];
}

function describeUnplaced(row: UnplacedRow, column: string): string {
  const at = 'line' in row ? `line ${row.line}` : `row ${row.row}`;
  if (row.reason === 'empty') return `${at}: ${column} is empty`;
  if (row.reason === 'not a date') return `${at}: ${column} ${JSON.stringify(row.value)} is not a date`;
  return `${at}: ${row.reason}`;
}

async function unplacedRows(engine: Engine, format: SourceFormat, limit: number | null): Promise<UnplacedRow[]> {
  const rows = await engine.rows<{ position: number; value: string | null; reason: UnplaceableReason }>(
    `SELECT position, value, reason FROM ingest_dated WHERE date IS NULL ORDER BY position LIMIT $1`,
    [limit],
  );
  return rows.map(({ position, value, reason }) => (format === 'parquet' ? { row: position, value, reason } : { line: position, value, reason }));
}

/**
 * Finds each row's date with DuckDB, then writes each date's rows to its own local file:
 * text sources by copying their lines (the header in front of each file, gzip in, gzip out),
 * Parquet by rewriting its rows per date in their order.
 */
async function splitByDate(engine: Engine, source: string, options: PartitionedIngestOptions & { name: string; format: SourceFormat }): Promise<DateSplit> {
  const { name, format, partitionBy: column } = options;
  const layout = format === 'csv' ? await dateCsvLines(engine, source, name, column) : format === 'json' ? await dateJsonLines(engine, source, name, column) : null;
  if (layout === null) await dateParquetRows(engine, source, name, column);
  const [{ unplacedCount }] = await engine.rows<{ unplacedCount: number }>('SELECT count(*) AS unplacedCount FROM ingest_dated WHERE date IS NULL');
  if (unplacedCount > 0 && !options.skipUnplaceable) {
    const [first] = await unplacedRows(engine, format, 1);
    throw new InputError(
      `--file ${name}: ${unplacedCount} row${unplacedCount === 1 ? '' : 's'} cannot be placed by ${column}, the first at ${describeUnplaced(first, column)}; ` +
        `fix them, or pass --skip-unplaceable to land the others and list these in bronze/${options.dataset}/${UNPLACED}/`,
    );
  }
  const counts = await engine.rows<{ date: string; rows: number }>('SELECT date, count(*) AS rows FROM ingest_dated WHERE date IS NOT NULL GROUP BY date ORDER BY date');
  if (counts.length === 0) throw new InputError(`--file ${name}: no row has a date in ${column}, nothing to land`);
  const targets = [...counts.map((count) => count.date), ...(unplacedCount > 0 ? [UNPLACED] : [])];

  const folder = engine.tempPath('-ingest');
  await mkdir(folder);
  const files = new Map<string, string>();
  if (layout === null) {
    const folderLake = new FsLake(folder);
    for (const target of targets) {
      const condition = target === UNPLACED ? '__detour_date IS NULL' : '__detour_date = $1';
      await engine.exportQuery(
        `SELECT * EXCLUDE (file_row_number, __detour_date) FROM ingest_rows WHERE ${condition} ORDER BY file_row_number`,
        folderLake,
        `${target}.parquet`,
        'parquet',
        target === UNPLACED ? [] : [target],
      );
      files.set(target, path.join(folder, `${target}.parquet`));
    }
  } else {
    await engine.run(
      `CREATE OR REPLACE TEMP TABLE ingest_runs AS
       SELECT row_number() OVER (ORDER BY first_line) AS run, first_line, last_line, target FROM (
         SELECT min(position) AS first_line, max(last_line) AS last_line, coalesce(date, $1) AS target FROM (
           -- Records of one date that follow each other without a gap share an island number.
           SELECT position, last_line, date, last_line + 1 - sum(last_line - position + 1) OVER (PARTITION BY date ORDER BY position) AS island FROM ingest_dated)
         GROUP BY date, island)
       ORDER BY run`,
      [UNPLACED],
    );
    let page = 0;
    const nextRuns = async (): Promise<LineRun[]> => {
      const columns = await engine.columns('SELECT first_line, last_line, target FROM ingest_runs WHERE run > $1 AND run <= $2 ORDER BY run', [page * RUNS_PER_PAGE, (page + 1) * RUNS_PER_PAGE]);
      page++;
      return (columns.first_line ?? []).map((firstLine, index) => ({ firstLine: firstLine as number, lastLine: columns.last_line[index] as number, target: columns.target[index] as string }));
    };
    const plainFile = (target: string) => path.join(folder, `${target}.part`);
    let linesSeen: number;
    try {
      linesSeen = await splitLines(sourceBytes(source), layout.headerLines, nextRuns, plainFile);
    } catch (error) {
      throw new InputError(`--file ${name}: cannot read: ${oneLine(error)}`, { cause: error });
    }
    if (linesSeen !== layout.lines) {
      throw new InputError(`--file ${name}: cannot split it by line (${linesSeen} lines, but the CSV reader counts ${layout.lines}); lines must end in \\n or \\r\\n, not a lone \\r`);
    }
    const gzipped = source.toLowerCase().endsWith('.gz');
    for (const target of targets) {
      if (!gzipped) files.set(target, plainFile(target));
      else {
        const compressed = path.join(folder, `${target}.gz`);
        await pipeline(createReadStream(plainFile(target)), createGzip(), createWriteStream(compressed));
        files.set(target, compressed);
      }
    }
  }
  const unplaced = unplacedCount > 0 ? await unplacedRows(engine, format, null) : [];
  return { files, rows: new Map(counts.map((count) => [count.date, count.rows])), unplaced };
}

/**
 * Lands one raw file that spans many days as one bronze partition per date of `partitionBy`:
 * `bronze/<dataset>/date=D/<file name>` holds that date's rows as they were (CSV and JSON lines:
 * the header and the date's lines byte for byte, gzip in, gzip out; Parquet: the date's rows,
 * same schema and order), and each partition's `_manifest.json` records the part (size, sha256,
 * rows) and its source (path, sha256). Ingesting the same file again is a no-op per partition;
 * a partition holding different content under the name is refused unless `replace`.
 *
 * A row whose column is empty or not a date refuses the whole file (InputError naming the first
 * and the count), unless `skipUnplaceable`: then those rows go to `bronze/<dataset>/_unplaced/<file>`
 * and are listed, with line and reason, in `_unplaced/<file>.json` ({@link UnplacedReport}).
 * Nothing is written before every check has passed.
 *
 * @example
 * ```ts
 * const result = await ingestPartitionedFile(lake, { dataset: 'rides', file: 'rides-2024.csv.gz', partitionBy: 'pickup_ts' });
 * // result.partitions[0].key === 'bronze/rides/date=2024-01-01/rides-2024.csv.gz'
 * ```
 */
export async function ingestPartitionedFile(lake: Lake, options: PartitionedIngestOptions): Promise<PartitionedIngestResult> {
  const { source, name } = await rawSource(options.dataset, options.file);
  const format = sourceFormat(name);
  const sourceSha256 = await sha256OfFile(source);
  const ingestedAt = (options.now ?? new Date()).toISOString();
  const engine = await openEngine();
  try {
    const split = await splitByDate(engine, source, { ...options, name, format });
    const landings: Landing[] = [];
    for (const [logicalDate, rows] of split.rows) {
      const localPath = split.files.get(logicalDate) as string;
      const { size } = await stat(localPath);
      const entry: ManifestEntry = { file: name, source, size, sha256: await sha256OfFile(localPath), ingestedAt, sourceSha256, rows };
      landings.push(await prepareLanding(lake, partitionPrefix('bronze', options.dataset, logicalDate), localPath, entry));
    }
    refuseConflicts(landings, options.replace);
    const partitions: PartitionIngestResult[] = [];
    for (const [index, logicalDate] of [...split.rows.keys()].entries()) partitions.push({ logicalDate, ...(await land(lake, landings[index])) });

    // The report always describes the latest ingest of this file name.
    const key = `bronze/${options.dataset}/${UNPLACED}/${name}`;
    const reportKey = `${key}.json`;
    if (split.unplaced.length === 0) {
      await lake.delete(key);
      await lake.delete(reportKey);
      return { source, sourceSha256, partitions, unplaced: null };
    }
    await lake.putFile(split.files.get(UNPLACED) as string, key);
    const report: UnplacedReport = { source, sourceSha256, column: options.partitionBy, file: key, rows: split.unplaced.length, unplaced: split.unplaced, ingestedAt };
    await lake.put(reportKey, `${JSON.stringify(report, null, 2)}\n`);
    return { source, sourceSha256, partitions, unplaced: { rows: split.unplaced.length, key, reportKey } };
  } finally {
    await engine.close();
  }
}
