/**
 * The predictions tables' statements: one table per pipeline (`<pipeline>_predictions`), a row per
 * (date, id) with the probability, the features it was computed from and the model version that
 * computed it. A date's rows are replaced as a whole: UPSERT by id, rows no longer predicted removed.
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

/** UPSERTs one batch of a date's predictions; run inside the transaction that replaces the date. */
export async function upsertPredictions(tx: SqlQueryable, name: string, logicalDate: string, runId: string, model: ModelRef, rows: readonly PredictionRow[]): Promise<void> {
  await tx.query(
    `INSERT INTO ${name} (id, logical_date, probability, features, model, model_version, run_id, updated_at)
     SELECT r.id, $1::date, r.probability, r.features::jsonb, $2, $3, $4, now()
     FROM unnest($5::text[], $6::double precision[], $7::text[]) AS r(id, probability, features)
     ON CONFLICT (logical_date, id) DO UPDATE SET
       probability = EXCLUDED.probability, features = EXCLUDED.features, model = EXCLUDED.model,
       model_version = EXCLUDED.model_version, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at`,
    [logicalDate, model.name, model.version, runId, rows.map((row) => row.id), rows.map((row) => row.probability), rows.map((row) => JSON.stringify(row.features))],
  );
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
