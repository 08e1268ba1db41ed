/**
 * The model registry's statements: versions of a model name (1, 2, ... per name), reserved by a
 * training run, registered once their artifact exists, promoted and archived with a stage history.
 * Every change of one name happens under that name's advisory lock, inside one transaction, so
 * concurrent trainers and promoters of a name take turns and never see each other half-done.
 */
import { InputError, NotFoundError, TransientError } from '../errors.js';
import { parsedJson, type SqlClient, type SqlQueryable } from './sql-client.js';
import type { ListModelsOptions, ModelRegistration, ModelStage, ModelStageChange, ModelVersion, NewModelVersion } from './store.js';

const MODEL_COLUMNS = `name, version, detector, entity, params,
  to_char(window_from, 'YYYY-MM-DD') AS window_from, to_char(window_to, 'YYYY-MM-DD') AS window_to,
  inputs, metrics, artifact_key, artifact_sha256, artifact_bytes, detour_version, training_run_id,
  created_at, registered_at, stage, promoted_at, previous_production`;

interface ModelRow {
  name: string;
  version: number;
  detector: string;
  /** '' for a model of all rows: the column predates supervised models and is NOT NULL. */
  entity: string;
  params: Record<string, unknown> | string;
  window_from: string;
  window_to: string;
  inputs: { key: string; sha256: string }[] | string;
  metrics: Record<string, number> | string | null;
  artifact_key: string | null;
  artifact_sha256: string | null;
  artifact_bytes: number | string | bigint | null;
  detour_version: string;
  training_run_id: string;
  created_at: Date;
  registered_at: Date | null;
  stage: ModelStage;
  promoted_at: Date | null;
  previous_production: number | null;
}

function toModelVersion(row: ModelRow): ModelVersion {
  return {
    name: row.name,
    version: row.version,
    detector: row.detector,
    entity: row.entity === '' ? null : row.entity,
    params: parsedJson(row.params),
    window: { from: row.window_from, to: row.window_to },
    inputs: parsedJson(row.inputs),
    metrics: row.metrics === null ? null : parsedJson(row.metrics),
    artifact: row.artifact_key === null ? null : { key: row.artifact_key, sha256: row.artifact_sha256 ?? '', bytes: Number(row.artifact_bytes) },
    detourVersion: row.detour_version,
    trainingRunId: row.training_run_id,
    stage: row.stage,
    createdAt: row.created_at,
    registeredAt: row.registered_at,
    promotedAt: row.promoted_at,
    previousProduction: row.previous_production,
  };
}

function requireName(name: string): void {
  if (typeof name !== 'string' || name.trim() === '') throw new InputError('a model name must be a non-empty string');
}

function requireVersion(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) throw new InputError(`a model version is a whole number >= 1, got ${version}`);
}

/** Serialises every change of one model name (not of others) until the transaction ends. */
async function lockName(tx: SqlQueryable, name: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`detour_models/${name}`]);
}

async function selectVersion(tx: SqlQueryable, name: string, version: number): Promise<ModelVersion | undefined> {
  const [row] = await tx.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM detour_models WHERE name = $1 AND version = $2`, [name, version]);
  return row === undefined ? undefined : toModelVersion(row);
}

async function productionVersion(tx: SqlQueryable, name: string): Promise<number | null> {
  const [row] = await tx.query<{ version: number }>(`SELECT version FROM detour_models WHERE name = $1 AND stage = 'production'`, [name]);
  return row?.version ?? null;
}

async function recordStage(tx: SqlQueryable, name: string, version: number, stage: ModelStage, reason: string): Promise<void> {
  await tx.query(
    `INSERT INTO detour_model_stages (name, seq, version, stage, reason)
     SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4 FROM detour_model_stages WHERE name = $1`,
    [name, version, stage, reason],
  );
}

/** Production moves to `version`; the version it replaces is archived. Call with the name locked. */
async function promoteLocked(tx: SqlQueryable, name: string, version: number, reason: string, restore: boolean): Promise<void> {
  const current = await productionVersion(tx, name);
  if (current === version) return;
  if (current !== null) {
    await tx.query(`UPDATE detour_models SET stage = 'archived' WHERE name = $1 AND version = $2`, [name, current]);
    await recordStage(tx, name, current, 'archived', restore ? `rolled back to v${version}` : `replaced by v${version}`);
  }
  await tx.query(
    `UPDATE detour_models SET stage = 'production', promoted_at = now(),
       previous_production = CASE WHEN $3 THEN previous_production ELSE $4::integer END
     WHERE name = $1 AND version = $2`,
    [name, version, restore, current],
  );
  await recordStage(tx, name, version, 'production', reason);
}

export async function reserveModelVersion(client: SqlClient, model: NewModelVersion): Promise<ModelVersion> {
  requireName(model.name);
  return client.transaction(async (tx) => {
    await lockName(tx, model.name);
    const [existing] = await tx.query<ModelRow>(`SELECT ${MODEL_COLUMNS} FROM detour_models WHERE training_run_id = $1 AND name = $2`, [model.trainingRunId, model.name]);
    if (existing !== undefined) return toModelVersion(existing);
    const [row] = await tx.query<ModelRow>(
      `INSERT INTO detour_models (name, version, detector, entity, params, window_from, window_to, inputs, detour_version, training_run_id)
       SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4::text::jsonb, $5::date, $6::date, $7::text::jsonb, $8, $9
       FROM detour_models WHERE name = $1
       RETURNING ${MODEL_COLUMNS}`,
      [model.name, model.detector, model.entity ?? '', JSON.stringify(model.params), model.window.from, model.window.to, JSON.stringify(model.inputs), model.detourVersion, model.trainingRunId],
    );
    return toModelVersion(row);
  });
}

export async function registerModelVersion(client: SqlClient, name: string, version: number, registration: ModelRegistration): Promise<ModelVersion> {
  requireName(name);
  requireVersion(version);
  return client.transaction(async (tx) => {
    await lockName(tx, name);
    const reserved = await selectVersion(tx, name, version);
    if (reserved === undefined) throw new NotFoundError(`model ${name} has no reserved version ${version}`);
    if (reserved.registeredAt !== null) return reserved;
    const { promote } = registration;
    if (promote !== undefined) {
      const production = await productionVersion(tx, name);
      if (production !== promote.ifProduction) {
        throw new TransientError(`production of ${name} changed (v${promote.ifProduction ?? '-'} → v${production ?? '-'}) while v${version} was being registered`);
      }
    }
    const { artifact } = registration;
    await tx.query(
      `UPDATE detour_models SET metrics = $3::text::json, artifact_key = $4, artifact_sha256 = $5, artifact_bytes = $6, registered_at = now()
       WHERE name = $1 AND version = $2`,
      [name, version, JSON.stringify(registration.metrics), artifact.key, artifact.sha256, artifact.bytes],
    );
    await recordStage(tx, name, version, 'candidate', registration.note);
    if (promote !== undefined) await promoteLocked(tx, name, version, promote.reason, false);
    return (await selectVersion(tx, name, version)) as ModelVersion;
  });
}

export async function listModels(client: SqlQueryable, options: ListModelsOptions = {}): Promise<ModelVersion[]> {
  const rows = await client.query<ModelRow>(
    `SELECT ${MODEL_COLUMNS} FROM detour_models
     WHERE registered_at IS NOT NULL
       AND ($1::text IS NULL OR name = $1::text OR starts_with(name, $1::text || '/'))
       AND ($2::text IS NULL OR stage = $2::text)
       AND ($3::text IS NULL OR training_run_id = $3::text)
     ORDER BY name COLLATE "C", version`,
    [options.name ?? null, options.stage ?? null, options.trainingRunId ?? null],
  );
  return rows.map(toModelVersion);
}

export async function getModelVersion(client: SqlQueryable, name: string, version: number): Promise<ModelVersion> {
  requireName(name);
  requireVersion(version);
  const found = await selectVersion(client, name, version);
  if (found === undefined || found.registeredAt === null) throw new NotFoundError(`model ${name} has no version ${version}`);
  return found;
}

export async function promoteModel(client: SqlClient, name: string, version: number, options: { reason: string; restore?: boolean }): Promise<ModelVersion> {
  requireName(name);
  requireVersion(version);
  return client.transaction(async (tx) => {
    await lockName(tx, name);
    const target = await selectVersion(tx, name, version);
    if (target === undefined || target.registeredAt === null) throw new NotFoundError(`model ${name} has no version ${version}`);
    await promoteLocked(tx, name, version, options.reason, options.restore ?? false);
    return (await selectVersion(tx, name, version)) as ModelVersion;
  });
}

export async function listModelStages(client: SqlQueryable, name: string): Promise<ModelStageChange[]> {
  requireName(name);
  const rows = await client.query<{ name: string; version: number; stage: ModelStage; reason: string; changed_at: Date }>(
    'SELECT name, version, stage, reason, changed_at FROM detour_model_stages WHERE name = $1 ORDER BY seq',
    [name],
  );
  return rows.map((row) => ({ name: row.name, version: row.version, stage: row.stage, reason: row.reason, changedAt: row.changed_at }));
}
