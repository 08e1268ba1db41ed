import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutageOptions } from '../outage.js';
import { lockFolder } from './dir-lock.js';
import { openPostgresClient, quotedName } from './postgres-client.js';

/** The tables the migrations create, besides the ones named by config (anomalies and predictions tables). */
export const STORE_TABLES: readonly string[] = ['detour_monitor_forecasts', 'detour_alarms', 'detour_feedback', 'detour_monitor_days', 'detour_monitor_drift', 'detour_monitor_performance', 'detour_model_stages', 'detour_models', 'detour_schedule_claims', 'detour_steps', 'quality_results', 'ride_anomalies', 'ride_anomalies_v1', 'detour_runs', 'detour_schema_version'];

/** Schemas on the PostgreSQL server at `databaseUrl` whose name starts with `prefix`, sorted. */
export async function listStoreSchemas(databaseUrl: string, prefix: string, options: OutageOptions = {}): Promise<string[]> {
  const client = await openPostgresClient(databaseUrl, options);
  try {
    const rows = await client.query<{ name: string }>('SELECT nspname AS name FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY nspname', [prefix]);
    return rows.map((row) => row.name);
  } finally {
    await client.close();
  }
}

/** Drops a schema with every table in it; false when there was none. */
export async function dropStoreSchema(databaseUrl: string, schema: string, options: OutageOptions = {}): Promise<boolean> {
  const client = await openPostgresClient(databaseUrl, options);
  try {
    const [{ exists }] = await client.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists', [schema]);
    if (exists) await client.query(`DROP SCHEMA ${quotedName(schema)} CASCADE`);
    return exists;
  } finally {
    await client.close();
  }
}

/**
 * Drops detour's tables from the server's default schema (the prod environment's): the migrations'
 * and `configTables` (lower_snake names from validated config), nothing else of that schema.
 */
export async function dropDefaultSchemaTables(databaseUrl: string, configTables: readonly string[], options: OutageOptions = {}): Promise<string[]> {
  const client = await openPostgresClient(databaseUrl, options);
  try {
    const dropped: string[] = [];
    for (const table of [...new Set([...configTables, ...STORE_TABLES])]) {
      const [{ exists }] = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
      if (!exists) continue;
      await client.query(`DROP TABLE ${quotedName(table)} CASCADE`);
      dropped.push(table);
    }
    return dropped;
  } finally {
    await client.close();
  }
}

/** The embedded databases' environments: the folders under `<stateDir>/envs/`. */
export async function listEmbeddedStores(envsDir: string): Promise<string[]> {
  try {
    return (await readdir(envsDir, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Removes the embedded database of a state folder (`<stateDir>/db`), taking its lock first: one
 * in use by a process is a TransientError naming it, and is left alone. The state folder goes too
 * once empty. False when there was no database.
 */
export async function removeEmbeddedStore(stateDir: string): Promise<boolean> {
  const dataDir = join(stateDir, 'db');
  const existed = await readdir(dataDir).then(
    () => true,
    () => false,
  );
  const lock = await lockFolder(dataDir, 'the PGlite database');
  try {
    await rm(dataDir, { recursive: true, force: true });
  } finally {
    await lock.release();
  }
  await rmdir(stateDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOTEMPTY' && error.code !== 'ENOENT') throw error;
  });
  return existed;
}
