/** Per-entity rows of a pipeline table over a window of dates: what series detectors and training read. */
import type { FeatureRows } from '../detectors/index.js';
import { sqlIdentifier, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { listPartitionFiles } from '../lake/index.js';
import type { StepContext } from './context.js';
import { sha256OfFile } from './hashing.js';

/** Rows of a table, one per entity and time, as columns sorted by entity then time. */
export interface SeriesTable {
  entity: string[];
  /** `YYYY-MM-DD` of each row. */
  day: string[];
  /** Each row's time, epoch milliseconds (UTC). */
  timeMs: Float64Array;
  /** Numeric columns by name (NaN for missing values). */
  values: Record<string, Float64Array>;
  /** With `labels` read: each row's labelled kind, null for a row not labelled anomalous. */
  labelledKind?: (string | null)[];
}

/** Which columns of which table to read: the dataset's silver or an aggregate's gold partitions. */
export interface EntitySource {
  table: string;
  entity: string;
  time: string;
  columns: readonly string[];
  /** Labelled rows (sample data): a row is labelled when `flag` is 1, of kind `kind` ('injected' without it). Left out when the files lack `flag`. */
  labels?: { flag: string; kind?: string };
}

/** Shard `shard` (0-based) of `shards`. */
export interface ShardOfShards {
  shard: number;
  shards: number;
}

/**
 * The shard (0..count-1) of an entity: FNV-1a over its UTF-16 code units, so that every process
 * puts an entity in the same shard whatever the order it meets entities in, and whatever other
 * entities a read sees. Shards of a few entities come out uneven (20 sensors in 10 shards: sizes 1
 * to 3); {@link shardEntities} deals them evenly when the entity list is known.
 */
export function shardOf(entity: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < entity.length; i++) {
    hash ^= entity.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % count;
}

/** Whether an entity belongs to shard `shard` of `shards`, by {@link shardOf}. */
export function inShard(partition: ShardOfShards): (entity: string) => boolean {
  return (entity) => partition.shards === 1 || shardOf(entity, partition.shards) === partition.shard;
}

/**
 * The entities of one shard: the distinct entities sorted (by UTF-16 code units) and dealt round
 * robin, the i-th to shard i mod shards. Shard sizes differ by at most one, so workers sharing the
 * shards finish together; every process reading the same entities deals the same shards.
 *
 * @example
 * shardEntities(['b', 'a', 'c', 'a'], { shard: 0, shards: 2 }); // Set { 'a', 'c' }
 */
export function shardEntities(entities: Iterable<string>, partition: ShardOfShards): Set<string> {
  const sorted = [...new Set(entities)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return new Set(sorted.filter((_, rank) => rank % partition.shards === partition.shard));
}

export interface ReadEntityRowsOptions {
  /** Only rows of these entities (e.g. those a training run asks for, or a hash shard's); default all. */
  include?: (entity: string) => boolean;
  /** Then only the rows of this shard of the included entities, dealt by {@link shardEntities}. */
  shard?: ShardOfShards;
  /** The step reading, as errors name it: `detect step arima`. */
  what: string;
  /** Also hash every file read (a training run records its inputs). */
  fingerprint?: boolean;
}

/**
 * The rows of `source` in the partitions dated `window.from` to `window.to` (ordered by entity,
 * then time), the included entities with rows in any shard, and with `fingerprint` every file read
 * with its sha256.
 */
export async function readEntityRows(
  engine: Engine,
  context: StepContext,
  source: EntitySource,
  window: { from: string; to: string },
  options: ReadEntityRowsOptions,
): Promise<{ table: SeriesTable; entitiesWithRows: ReadonlySet<string>; inputs: { key: string; sha256: string }[] }> {
  const { include = () => true, what } = options;
  const zone = source.table === context.params.pipeline.dataset ? 'silver' : 'gold';
  const keys = (await listPartitionFiles(context.lake, zone, source.table, window.from, window.to)).map((file) => file.key);
  const empty = { entity: [], day: [], timeMs: new Float64Array(), values: Object.fromEntries(source.columns.map((name) => [name, new Float64Array()])) };
  if (keys.length === 0) return { table: empty, entitiesWithRows: new Set(), inputs: [] };
  const paths = await engine.stage(context.lake, keys);
  const time = sqlIdentifier(source.time);
  const labelledKind = await labelledKindSql(engine, paths, source.labels);
  let columns: Record<string, unknown[]>;
  try {
    columns = await engine.columns(
      `SELECT CAST(${sqlIdentifier(source.entity)} AS VARCHAR) AS entity,
        strftime(CAST(${time} AS DATE), '%Y-%m-%d') AS day,
        CAST(epoch_ms(CAST(${time} AS TIMESTAMP)) AS DOUBLE) AS time_ms,
        ${labelledKind === undefined ? '' : `${labelledKind} AS labelled_kind,`}
        ${source.columns.map((name, i) => `CAST(${sqlIdentifier(name)} AS DOUBLE) AS v${i}`).join(', ')}
      FROM read_parquet($1, union_by_name = true, hive_partitioning = false)
      WHERE ${sqlIdentifier(source.entity)} IS NOT NULL
      ORDER BY entity, CAST(${time} AS TIMESTAMP)`,
      [paths],
    );
  } catch (error) {
    throw new InputError(`${what} on ${source.table}: ${oneLine(error)}`, { cause: error });
  }
  const entities = columns.entity as string[];
  const included = entities.map((_, row) => row).filter((row) => include(entities[row]));
  const entitiesWithRows = new Set(included.map((row) => entities[row]));
  const dealt = options.shard === undefined || options.shard.shards === 1 ? undefined : shardEntities(entitiesWithRows, options.shard);
  const rows = dealt === undefined ? included : included.filter((row) => dealt.has(entities[row]));
  const day = columns.day as string[];
  const timeMs = columns.time_ms as number[];
  const kinds = columns.labelled_kind as (string | null)[] | undefined;
  const inputs = [];
  for (let i = 0; options.fingerprint && i < keys.length; i++) inputs.push({ key: keys[i], sha256: await sha256OfFile(paths[i]) });
  return {
    table: {
      entity: rows.map((row) => entities[row]),
      day: rows.map((row) => day[row]),
      timeMs: Float64Array.from(rows, (row) => timeMs[row]),
      ...(kinds === undefined ? {} : { labelledKind: rows.map((row) => kinds[row]) }),
      values: Object.fromEntries(
        source.columns.map((name, i) => {
          const values = columns[`v${i}`] as (number | null)[];
          return [name, Float64Array.from(rows, (row) => values[row] ?? Number.NaN)];
        }),
      ),
    },
    entitiesWithRows,
    inputs,
  };
}

/** The table's rows `rows`, in that order, as a table of their own. */
export function tableRows(table: SeriesTable, rows: readonly number[]): SeriesTable {
  const { labelledKind } = table;
  return {
    entity: rows.map((row) => table.entity[row]),
    day: rows.map((row) => table.day[row]),
    timeMs: Float64Array.from(rows, (row) => table.timeMs[row]),
    values: Object.fromEntries(Object.entries(table.values).map(([name, values]) => [name, Float64Array.from(rows, (row) => values[row])])),
    ...(labelledKind === undefined ? {} : { labelledKind: rows.map((row) => labelledKind[row]) }),
  };
}

/** The rows `rows` of the table (one entity's, in time order) as a trainable detector takes them. */
export function featureRowsOf(table: SeriesTable, rows: readonly number[], features: readonly string[]): FeatureRows {
  return {
    features,
    columns: features.map((feature) => Float64Array.from(rows, (row) => table.values[feature][row])),
    timestampsMs: Float64Array.from(rows, (row) => table.timeMs[row]),
  };
}

/** The SQL of a row's labelled kind, when the files have the label columns (real data has none). */
async function labelledKindSql(engine: Engine, paths: string[], labels: EntitySource['labels']): Promise<string | undefined> {
  if (labels === undefined) return undefined;
  const present = new Set((await engine.rows<{ name: string }>(`SELECT DISTINCT name FROM parquet_schema($1)`, [paths])).map((row) => row.name));
  if (!present.has(labels.flag)) return undefined;
  const kind = labels.kind !== undefined && present.has(labels.kind) ? `coalesce(nullif(CAST(${sqlIdentifier(labels.kind)} AS VARCHAR), ''), 'injected')` : `'injected'`;
  return `CASE WHEN TRY_CAST(${sqlIdentifier(labels.flag)} AS INTEGER) = 1 THEN ${kind} END`;
}

/** Row indices per entity, entities sorted so that outputs are deterministic. */
export function rowsByEntity(table: SeriesTable): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  table.entity.forEach((entity, row) => {
    const rows = groups.get(entity);
    if (rows) rows.push(row);
    else groups.set(entity, [row]);
  });
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
