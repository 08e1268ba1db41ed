/**
 * The predictions tables' statements: one table per pipeline (`<pipeline>_predictions`), a row per
 * (date, id) with the probability, the features it was computed from and the model version that
 * computed it. A date's rows are replaced as a whole, in one transaction: deleted, then inserted
 * again in bulk (cheaper than UPSERTing rows already there, as a rerun's are).
 */
import { InputError } from '../errors.js';
import { parsedJson, type SqlQueryable } from './sql-client.js';
import type { ModelRef, PredictionRow, StoredPrediction } from './store.js';

/** A predictions table name, checked because it is spliced into SQL. */
export function predictionsTable(table: string): string {
  if (!/^[a-z][a-z0-9_]{0,50}_predictions$/.test(table)) throw new InputError(`predictions table "${table}" must be lower_snake_case and end in _predictions`);
  return table;
}

/** Creates the table when missing; run under the table's lock (see the store's ensureTable). */
export async function createPredictionsTable(tx: SqlQueryable, name: string): Promise<void> {
  await tx.query(`CREATE TABLE IF NOT EXISTS ${name} (
    id text NOT NULL,
    logical_date date NOT NULL,
    probability double precision NOT NULL,
    features jsonb NOT NULL,
    model text NOT NULL,
    model_version integer NOT NULL,
    run_id text NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (logical_date, id)
  )`);
}

/**
 * Rows per insert statement. Rows travel as one array per column (the features too, one per
 * feature, built into the jsonb by the database: cheaper to send than a JSON text per row), so the
 * parameter count never grows with the rows; a batch only bounds the size of one message.
 */
const INSERT_BATCH_ROWS = 50_000;

/** The features every row of a date shares (they come from one model); InputError when a row has others. */
function sharedFeatures(rows: readonly PredictionRow[], logicalDate: string): string[] {
  const names = Object.keys(rows[0]?.features ?? {});
  for (const row of rows) {
    const keys = Object.keys(row.features);
    if (keys.length !== names.length || keys.some((key) => !names.includes(key))) {
      throw new InputError(`predictions of ${logicalDate} must all have the features ${names.join(', ') || '(none)'}; ${row.id} has ${keys.join(', ') || 'none'}`);
    }
  }
  return names;
}

/**
 * Makes the predictions of `logicalDate` in table `name` exactly `rows` (ids unique, the same
 * features in every row): deletes the date's rows and inserts these, inside the caller's
 * transaction. Writers of the same date take turns (an advisory lock until the transaction
 * ends), so the last one's rows stand whole.
 */
export async function replaceDatePredictions(tx: SqlQueryable, name: string, logicalDate: string, runId: string, model: ModelRef, rows: readonly PredictionRow[]): Promise<void> {
  const features = sharedFeatures(rows, logicalDate);
  // $1 date, $2 model, $3 version, $4 run, $5 ids, $6 probabilities, then per feature its name and its values.
  const featureSql = features.length === 0 ? `'{}'::jsonb` : `jsonb_build_object(${features.map((_, k) => `$${7 + 2 * k}::text, r.f${k}`).join(', ')})`;
  const unnestSql = ['$5::text[]', '$6::double precision[]', ...features.map((_, k) => `$${8 + 2 * k}::double precision[]`)].join(', ');
  const columnsSql = ['id', 'probability', ...features.map((_, k) => `f${k}`)].join(', ');
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${name} ${logicalDate}`]);
  await tx.query(`DELETE FROM ${name} WHERE logical_date = $1::date`, [logicalDate]);
  for (let start = 0; start < rows.length; start += INSERT_BATCH_ROWS) {
    const batch = rows.slice(start, start + INSERT_BATCH_ROWS);
    await tx.query(
      `INSERT INTO ${name} (id, logical_date, probability, features, model, model_version, run_id, updated_at)
       SELECT r.id, $1::date, r.probability, ${featureSql}, $2, $3, $4, now()
       FROM unnest(${unnestSql}) AS r(${columnsSql})`,
      [logicalDate, model.name, model.version, runId, batch.map((row) => row.id), batch.map((row) => row.probability), ...features.flatMap((feature) => [feature, batch.map((row) => row.features[feature])])],
    );
  }
}

export async function selectPredictions(client: SqlQueryable, name: string, logicalDate: string): Promise<StoredPrediction[]> {
  const [{ exists }] = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
  if (!exists) return [];
  const rows = await client.query<{ id: string; probability: number; features: Record<string, number> | string; model: string; model_version: number; run_id: string }>(
    `SELECT id, probability, features, model, model_version, run_id FROM ${name} WHERE logical_date = $1::date ORDER BY id COLLATE "C"`,
    [logicalDate],
  );
  return rows.map((row) => ({ id: row.id, probability: row.probability, features: parsedJson(row.features), model: { name: row.model, version: row.model_version }, runId: row.run_id }));
}
