/** A table's rows with a 0/1 outcome over a window of dates, in time order: what a supervised model learns from. */
import type { TrainStepConfig } from '../config/index.js';
import { rowProblem, type FeatureContract, type LabelledRows } from '../detectors/index.js';
import { sqlIdentifier, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { listPartitionFiles } from '../lake/index.js';
import type { StepContext } from './context.js';
import { sha256OfFile } from './hashing.js';

/** Rows left out of training, counted by why. */
export interface ExcludedRows {
  reason: string;
  rows: number;
}

/** What a supervised training step reads: the usable rows, those left out with why, and every file read with its sha256. */
export interface LabelledWindow {
  rows: LabelledRows;
  excluded: ExcludedRows[];
  inputs: { key: string; sha256: string }[];
}

/** Outcome codes the query gives each row. */
const MISSING_LABEL = -1;
const OTHER_LABEL = 2;

/**
 * The rows of a supervised training step's table dated `window.from` to `window.to`, ordered by
 * its time column (then file and row, so that ties keep one order). A row is left out, and counted
 * with the reason, when its label is missing or not 0 or 1, or a feature is missing or outside its
 * range: training reads silver or gold, whose rows stay where they are, so nothing is quarantined.
 */
export async function readLabelledRows(engine: Engine, context: StepContext, step: TrainStepConfig & { label: string; features: string[] }, window: { from: string; to: string }): Promise<LabelledWindow> {
  const zone = step.table === context.params.pipeline.dataset ? 'silver' : 'gold';
  const keys = (await listPartitionFiles(context.lake, zone, step.table, window.from, window.to)).map((file) => file.key);
  const contract: FeatureContract = { features: step.features, ranges: step.ranges };
  if (keys.length === 0) return { rows: { features: step.features, columns: step.features.map(() => new Float64Array()), labels: new Uint8Array() }, excluded: [], inputs: [] };
  const paths = await engine.stage(context.lake, keys);
  const label = sqlIdentifier(step.label);
  let columns: Record<string, unknown[]>;
  try {
    columns = await engine.columns(
      `SELECT ${step.features.map((feature, k) => `CAST(${sqlIdentifier(feature)} AS DOUBLE) AS f${k}`).join(', ')},
        CASE WHEN ${label} IS NULL THEN ${MISSING_LABEL} WHEN TRY_CAST(${label} AS DOUBLE) = 0 THEN 0 WHEN TRY_CAST(${label} AS DOUBLE) = 1 THEN 1 ELSE ${OTHER_LABEL} END AS outcome
      FROM read_parquet($1, union_by_name = true, hive_partitioning = false, filename = true, file_row_number = true)
      ORDER BY CAST(${sqlIdentifier(step.time)} AS TIMESTAMP), filename, file_row_number`,
      [paths],
    );
  } catch (error) {
    throw new InputError(`training step ${step.model} on ${step.table}: ${oneLine(error)}`, { cause: error });
  }
  const outcomes = columns.outcome as number[];
  const read = step.features.map((_, k) => Float64Array.from(columns[`f${k}`] as (number | null)[], (value) => value ?? Number.NaN));
  const excluded = new Map<string, number>();
  const kept: number[] = [];
  outcomes.forEach((outcome, row) => {
    const reason = outcome === MISSING_LABEL ? `label ${step.label} missing` : outcome === OTHER_LABEL ? `label ${step.label} not 0 or 1` : rowProblem(contract, read, row);
    if (reason === undefined) kept.push(row);
    else excluded.set(reason, (excluded.get(reason) ?? 0) + 1);
  });
  const inputs = [];
  for (let i = 0; i < keys.length; i++) inputs.push({ key: keys[i], sha256: await sha256OfFile(paths[i]) });
  return {
    rows: { features: step.features, columns: read.map((column) => Float64Array.from(kept, (row) => column[row])), labels: Uint8Array.from(kept, (row) => outcomes[row]) },
    excluded: [...excluded].map(([reason, rows]) => ({ reason, rows })).sort((a, b) => (a.reason < b.reason ? -1 : 1)),
    inputs,
  };
}
