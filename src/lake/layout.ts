/**
 * Every key detour reads or writes in the lake is built here, and what is parsed back out of a
 * key (the date of a listed partition, the partition of a landed file) is parsed here too.
 *
 * ```
 * bronze/<dataset>/date=D/<files as landed>          _manifest.json
 * silver/<dataset>/date=D/data.parquet               typed, renamed rows
 * silver/<dataset>_quarantine/date=D/quarantine.parquet
 * silver/<dataset>_quality/date=D/report.json
 * gold/<aggregate>/date=D/data.parquet
 * gold/<anomalies table>/date=D/anomalies.json       gold/<summary>/date=D/summary.json
 * gold/<pipeline>_predictions/date=D/data.parquet    a supervised model's probability per row
 * runs/<pipeline>/<run id>/...                       a run's scratch (findings before publish, full error texts, a training run's summary)
 * models/<model>/<entity>/v<version>/model-<sha>.json  a registered model's artifact (models/<model>/v<version>/... for a supervised model)
 * state/<pipeline>/<detector>-<table>-<value>/date=D/<entity>.json  a streaming detector's state per entity after date D
 * envs/<env>/...                                     all of the above for an environment other than prod
 * ```
 */
import { assertIsoDate, isIsoDate } from '../dates.js';
import type { Lake } from './lake.js';

/** The medallion zones of the lake: raw as landed, cleaned and typed, published results. */
export type Zone = 'bronze' | 'silver' | 'gold';

/** Hive-style partition prefix, always ending in `/`: `silver/rides/date=2024-01-01/`. */
export function partitionPrefix(zone: Zone, table: string, date: string): string {
  return `${zone}/${table}/date=${assertIsoDate(date)}/`;
}

/** Names of the tables a pipeline writes, as its config resolves them. */
export interface PipelineTables {
  dataset: string;
  anomaliesTable: string;
  summaryTable: string;
  predictionsTable: string;
}

/** The keys of one pipeline date. */
export interface DateKeys {
  /** Folder of the landed raw files. */
  input: string;
  silver: string;
  quarantine: string;
  quality: string;
  aggregate(name: string): string;
  anomalies: string;
  summary: string;
  predictions: string;
}

/** Where a pipeline reads and writes for one date. */
export function dateKeys(tables: PipelineTables, date: string): DateKeys {
  return {
    input: partitionPrefix('bronze', tables.dataset, date),
    silver: silverKey(tables.dataset, date),
    quarantine: quarantineKey(tables.dataset, date),
    quality: `${partitionPrefix('silver', `${tables.dataset}_quality`, date)}report.json`,
    aggregate: (name) => aggregateKey(name, date),
    anomalies: `${partitionPrefix('gold', tables.anomaliesTable, date)}anomalies.json`,
    summary: `${partitionPrefix('gold', tables.summaryTable, date)}summary.json`,
    predictions: aggregateKey(tables.predictionsTable, date),
  };
}

/** A dataset's cleaned rows of one date: what its pipeline's later steps, and pipelines joining it, read. */
export function silverKey(dataset: string, date: string): string {
  return `${partitionPrefix('silver', dataset, date)}data.parquet`;
}

/** A dataset's rejected rows of one date, each with its `_reason`. */
export function quarantineKey(dataset: string, date: string): string {
  return `${partitionPrefix('silver', `${dataset}_quarantine`, date)}quarantine.parquet`;
}

/** An aggregate step's output for one date. */
export function aggregateKey(name: string, date: string): string {
  return `${partitionPrefix('gold', name, date)}data.parquet`;
}

/** A run's intermediate results (detector findings before publishing), kept for resume and audit. */
export function runScratchPrefix(pipeline: string, runId: string): string {
  return `runs/${pipeline}/${runId}/`;
}

/** Where one detect partition keeps its findings until publish. */
export function findingsKey(pipeline: string, runId: string, partitionLabel: string): string {
  return `${runScratchPrefix(pipeline, runId)}detect/${partitionLabel}.json`;
}

/** Where the full text of an error is kept when the line recorded for a step (`<step>-<partition>`) or the run (`run`) had to be cut. */
export function errorTextKey(pipeline: string, runId: string, name: string): string {
  return `${runScratchPrefix(pipeline, runId)}errors/${name}.txt`;
}

/** Where a training run leaves what it trained and skipped, per entity. */
export function trainingSummaryKey(pipeline: string, runId: string): string {
  return `${runScratchPrefix(pipeline, runId)}train/summary.json`;
}

/**
 * A key segment for any entity value: percent-encoded like a URI component (no `/`), and `.` and
 * `..`, which keys may not hold as segments, encoded too.
 */
function entitySegment(entity: string): string {
  const encoded = encodeURIComponent(entity);
  // '' and all-dot values only: a lone % never comes out of encodeURIComponent, so it cannot collide.
  return /^\.*$/.test(encoded) ? encoded.replaceAll('.', '%2E') || '%' : encoded;
}

/**
 * The artifact of version `version` of a model: `models/<model>/<entity>/v<version>/model-<sha>.json`,
 * or `models/<model>/v<version>/...` for a model of all rows (entity null). An artifact is named by
 * its content's sha256, so two attempts at training the same version never write over each other:
 * the registry records the one that was registered.
 */
export function modelArtifactKey(model: string, entity: string | null, version: number, sha256: string): string {
  return `models/${model}/${entity === null ? '' : `${entitySegment(entity)}/`}v${version}/model-${sha256.slice(0, 16)}.json`;
}

/** A streaming detect step's checkpoints: what it reads and where, e.g. the `stream` detector over `traffic.bytes`. */
export interface CheckpointStream {
  pipeline: string;
  detector: string;
  table: string;
  value: string;
}

/** The folder of a streaming detect step's checkpoints after `date` (one file per entity). */
export function checkpointPrefix(stream: CheckpointStream, date: string): string {
  return `state/${stream.pipeline}/${stream.detector}-${stream.table}-${stream.value}/date=${assertIsoDate(date)}/`;
}

/** One entity's streaming state after `date`: what the run of the next date continues from. */
export function checkpointKey(stream: CheckpointStream, date: string, entity: string): string {
  return `${checkpointPrefix(stream, date)}${entitySegment(entity)}.json`;
}

/** The folder holding every environment's lake but prod's. */
export const ENVS_PREFIX = 'envs/';

/** The folder of an environment's lake: `envs/<env>/`, whose keys are laid out as above. */
export function envPrefix(env: string): string {
  return `${ENVS_PREFIX}${env}/`;
}

/** The environment a key of the whole lake belongs to: the `<env>` of `envs/<env>/...`, undefined for prod's keys. */
export function envOfKey(key: string): string | undefined {
  return key.startsWith(ENVS_PREFIX) ? key.slice(ENVS_PREFIX.length).split('/')[0] : undefined;
}

/** The `date=D` of a partitioned key, or undefined when the key has none. */
function partitionDateOf(key: string): string | undefined {
  const date = /\/date=([^/]+)\//.exec(key)?.[1];
  return date !== undefined && isIsoDate(date) ? date : undefined;
}

/**
 * The partition of a landed raw file, `bronze/<dataset>/date=D/<file>`; undefined for any other
 * key, the partition's side files (`_manifest.json`, hidden files) included.
 */
export function landedPartitionOf(key: string): { dataset: string; date: string } | undefined {
  const match = /^bronze\/([a-z][a-z0-9_]*)\/date=([^/]+)\/([^/]+)$/.exec(key);
  if (match === null || !isIsoDate(match[2]) || /^[._]/.test(match[3])) return undefined;
  return { dataset: match[1], date: match[2] };
}

/** The Parquet files of `table` in `zone` whose partition date lies in [from, to], in key order, with their dates. */
export async function listPartitionFiles(lake: Lake, zone: Zone, table: string, from: string, to: string): Promise<{ key: string; date: string }[]> {
  return (await lake.list(`${zone}/${table}/`)).flatMap((object) => {
    const date = partitionDateOf(object.key);
    return date !== undefined && date >= from && date <= to && object.key.endsWith('.parquet') ? [{ key: object.key, date }] : [];
  });
}
