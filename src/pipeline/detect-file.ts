import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  dbscan,
  fitAndScoreIsolationForest,
  outlierLabels,
  standardScale,
  type IsolationForestOptions,
} from '../detectors/index.js';
import { openEngine, sqlIdentifier, type Engine, type TableColumn } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { FsLake } from '../lake/index.js';

/** The file and columns of a single-file detection job. */
export interface DetectFileOptions {
  /** A .csv (with a header) or .parquet file, optionally .gz. */
  input: string;
  /** A .csv or .parquet file to create or replace. */
  output: string;
  /** Numeric feature columns of the input. */
  features: string[];
}

export interface DbscanFileOptions extends DetectFileOptions {
  eps: number;
  minSamples: number;
  scale: 'standard' | 'none';
}

/** `detour detect iforest`: the job's files plus the forest's options. */
export type IsolationForestFileOptions = DetectFileOptions & IsolationForestOptions;

export interface DetectFileResult {
  rows: number;
  /** Rows labelled -1. */
  outliers: number;
  /** Absolute path of the written file. */
  output: string;
}

export interface DbscanFileResult extends DetectFileResult {
  clusters: number;
}

/** A detector's verdict on the rows of a file: columns to add (in input order), and anything to report. */
interface Detection {
  columns: TableColumn[];
  outliers: number;
}

/** The file-order row number `loadInputFile` adds to table `input`. */
export const ROW_COLUMN = '__detour_row';
/** Decimals of the isolation forest score: scores of different seeds already differ in the third. */
const SCORE_DECIMALS = 4;

function fileFormat(file: string, flag: string): 'csv' | 'parquet' {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.parquet')) return 'parquet';
  throw new InputError(`${flag} ${file}: expected a .csv or .parquet file`);
}

/** Loads a CSV/Parquet file into table `input` with a 0-based `__detour_row` in file order. */
export async function loadInputFile(engine: Engine, file: string): Promise<void> {
  const format = fileFormat(file, '--input');
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`--input ${file} is not a file`);
    if (info.size === 0) throw new InputError(`--input ${file} is empty`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`--input ${file}: file not found`, { cause: error });
  }
  const reader = format === 'csv' ? 'read_csv($1, header = true)' : 'read_parquet($1)';
  try {
    await engine.run(`CREATE TABLE input AS SELECT row_number() OVER () - 1 AS ${ROW_COLUMN}, * FROM ${reader}`, [file]);
  } catch (error) {
    throw new InputError(`--input ${file}: cannot read ${format}: ${oneLine(error)}`, { cause: error });
  }
}

/** Feature columns as float arrays in file order; a missing column or a bad value is an InputError naming it. */
export async function readFeatures(engine: Engine, file: string, features: string[]): Promise<Float64Array[]> {
  const present = await engine.columnNames('input');
  const missing = features.filter((feature) => !present.includes(feature));
  if (missing.length > 0) {
    throw new InputError(`--input ${file}: no column ${missing.join(', ')} (columns: ${present.filter((name) => name !== ROW_COLUMN).join(', ')})`);
  }
  for (const feature of features) {
    const column = sqlIdentifier(feature);
    const number = `TRY_CAST(${column} AS DOUBLE)`;
    const [bad] = await engine.rows<{ row: number; value: string | null }>(
      `SELECT ${ROW_COLUMN} + 1 AS row, CAST(${column} AS VARCHAR) AS value FROM input
       WHERE ${number} IS NULL OR isnan(${number}) OR isinf(${number}) ORDER BY ${ROW_COLUMN} LIMIT 1`,
    );
    if (bad) {
      const problem = bad.value === null ? 'is missing' : `is not a finite number ("${bad.value}")`;
      throw new InputError(`--input ${file}: row ${bad.row}: ${feature} ${problem}`);
    }
  }
  const columns = await engine.columns(`SELECT ${features.map((feature, i) => `CAST(${sqlIdentifier(feature)} AS DOUBLE) AS f${i}`).join(', ')} FROM input ORDER BY ${ROW_COLUMN}`);
  return features.map((_, i) => Float64Array.from(columns[`f${i}`] as number[]));
}

/**
 * The shared path of the single-file jobs: loads the input, reads the feature columns (every value a
 * finite number, else an InputError naming the row), runs `detect` on them and writes every input row,
 * in input order, plus the detection's columns, which replace input columns of the same names. The
 * output is written atomically.
 */
async function detectFile<D extends Detection>(
  options: DetectFileOptions,
  detect: (features: Float64Array[]) => D,
): Promise<Omit<D, 'columns'> & { rows: number; output: string }> {
  const outputFormat = fileFormat(options.output, '--output');
  if (options.features.length === 0) throw new InputError('--features needs at least one column name');
  const engine = await openEngine();
  try {
    await loadInputFile(engine, options.input);
    const features = await readFeatures(engine, options.input, options.features);
    const { columns, ...report } = detect(features);
    const rows = features[0].length;
    await engine.createTable('detections', [
      { name: ROW_COLUMN, type: 'INTEGER', values: Int32Array.from({ length: rows }, (_, i) => i) },
      ...columns,
    ]);
    // DuckDB matches column names case-insensitively, so "Label" would clash with "label" too.
    const addedNames = new Set(columns.map((column) => column.name.toLowerCase()));
    const replaced = (await engine.columnNames('input')).filter((name) => addedNames.has(name.toLowerCase()));
    const excluded = [ROW_COLUMN, ...replaced].map(sqlIdentifier).join(', ');
    const added = columns.map((column) => `detections.${sqlIdentifier(column.name)}`).join(', ');
    const output = path.resolve(options.output);
    await engine.exportQuery(
      `SELECT input.* EXCLUDE (${excluded}), ${added} FROM input JOIN detections USING (${ROW_COLUMN}) ORDER BY ${ROW_COLUMN}`,
      new FsLake(path.dirname(output)),
      path.basename(output),
      outputFormat,
    );
    return { ...report, rows, output };
  } finally {
    await engine.close();
  }
}

/** Rows labelled as outliers: -1 for both DBSCAN (noise) and the isolation forest, as in sklearn. */
function countOutliers(labels: ArrayLike<number>): number {
  let outliers = 0;
  for (let row = 0; row < labels.length; row++) if (labels[row] === -1) outliers++;
  return outliers;
}

/**
 * `detour detect dbscan`: clusters the rows of one CSV/Parquet file on the given feature columns
 * and writes every input row, in input order, plus a `label` column (cluster id, -1 = outlier).
 */
export async function detectDbscanFile(options: DbscanFileOptions): Promise<DbscanFileResult> {
  return detectFile(options, (raw) => {
    const features = options.scale === 'standard' ? standardScale(raw).scaled : raw;
    const { labels, clusterCount } = dbscan(features, { eps: options.eps, minSamples: options.minSamples });
    return { columns: [{ name: 'label', type: 'INTEGER', values: labels }], outliers: countOutliers(labels), clusters: clusterCount };
  });
}

/**
 * `detour detect iforest`: fits an isolation forest on the rows of one CSV/Parquet file and writes
 * every input row, in input order, plus `score` (the paper's anomaly score in 0..1, higher = more
 * anomalous) and `label` (-1 = outlier, 1 = inlier, as sklearn's `predict`).
 */
export async function detectIsolationForestFile(options: IsolationForestFileOptions): Promise<DetectFileResult> {
  return detectFile(options, (features) => {
    const { model, sampleScores } = fitAndScoreIsolationForest(features, options);
    const labels = outlierLabels(model, sampleScores);
    const scale = 10 ** SCORE_DECIMALS;
    const scores = sampleScores.map((sampleScore) => Math.round(-sampleScore * scale) / scale);
    return {
      columns: [
        { name: 'score', type: 'DOUBLE', values: scores },
        { name: 'label', type: 'INTEGER', values: labels },
      ],
      outliers: countOutliers(labels),
    };
  });
}
