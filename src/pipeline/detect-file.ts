import { stat } from 'node:fs/promises';
import path from 'node:path';
import { dbscan, standardScale } from '../detectors/index.js';
import { openEngine, sqlIdentifier, sqlString, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { FsLake } from '../lake/index.js';

export interface DbscanFileOptions {
  input: string;
  output: string;
  features: string[];
  eps: number;
  minSamples: number;
  scale: 'standard' | 'none';
}

export interface DetectFileResult {
  rows: number;
  outliers: number;
  clusters: number;
  output: string;
}

const ROW_COLUMN = '__detour_row';

function fileFormat(file: string, flag: string): 'csv' | 'parquet' {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.parquet')) return 'parquet';
  throw new InputError(`${flag} ${file}: expected a .csv or .parquet file`);
}

/** Loads a CSV/Parquet file into table `input` with a 0-based `__detour_row` in file order. */
async function loadInputFile(engine: Engine, file: string): Promise<void> {
  const format = fileFormat(file, '--input');
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new InputError(`--input ${file} is not a file`);
    if (info.size === 0) throw new InputError(`--input ${file} is empty`);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(`--input ${file}: file not found`, { cause: error });
  }
  const reader = format === 'csv' ? `read_csv(${sqlString(file)}, header = true)` : `read_parquet(${sqlString(file)})`;
  try {
    await engine.run(`CREATE TABLE input AS SELECT row_number() OVER () - 1 AS ${ROW_COLUMN}, * FROM ${reader}`);
  } catch (error) {
    throw new InputError(`--input ${file}: cannot read ${format}: ${oneLine(error)}`, { cause: error });
  }
}

/** Feature columns as float arrays in file order; a missing column or a bad value is an InputError naming it. */
async function readFeatures(engine: Engine, file: string, features: string[]): Promise<Float64Array[]> {
  const present = (await engine.rows<{ column_name: string }>(`SELECT column_name FROM (DESCRIBE input)`)).map((row) => row.column_name);
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
 * `detour detect dbscan`: clusters the rows of one CSV/Parquet file on the given feature columns
 * and writes every input row, in input order, plus a `label` column (cluster id, -1 = outlier).
 * An existing `label` column is replaced. The output is written atomically.
 */
export async function detectDbscanFile(options: DbscanFileOptions): Promise<DetectFileResult> {
  const outputFormat = fileFormat(options.output, '--output');
  if (options.features.length === 0) throw new InputError('--features needs at least one column name');
  const engine = await openEngine();
  try {
    await loadInputFile(engine, options.input);
    const raw = await readFeatures(engine, options.input, options.features);
    const features = options.scale === 'standard' ? standardScale(raw).scaled : raw;
    const result = dbscan(features, { eps: options.eps, minSamples: options.minSamples });
    await engine.createTable('labels', [
      { name: ROW_COLUMN, type: 'INTEGER', values: Int32Array.from({ length: result.labels.length }, (_, i) => i) },
      { name: 'label', type: 'INTEGER', values: result.labels },
    ]);
    const hasLabel = (await engine.rows(`SELECT 1 FROM (DESCRIBE input) WHERE column_name = 'label'`)).length > 0;
    const output = path.resolve(options.output);
    await engine.exportQuery(
      `SELECT input.* EXCLUDE (${ROW_COLUMN}${hasLabel ? ', label' : ''}), labels.label FROM input JOIN labels USING (${ROW_COLUMN}) ORDER BY ${ROW_COLUMN}`,
      new FsLake(path.dirname(output)),
      path.basename(output),
      outputFormat,
    );
    let outliers = 0;
    for (const label of result.labels) if (label < 0) outliers++;
    return { rows: result.labels.length, outliers, clusters: result.clusterCount, output };
  } finally {
    await engine.close();
  }
}
