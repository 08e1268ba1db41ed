/**
 * An environment's whole life: listing the environments a deployment has, creating one (its
 * schema and lake folder, production models copied when asked), destroying one (its lake keys,
 * schema or embedded database, queue and bus messages; nothing of any other environment).
 */
import path from 'node:path';
import { DEFAULT_ENV, type DetourConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { ENVS_PREFIX, envLake, envOfKey, type Lake } from '../lake/index.js';
import { copyProductionModels, pipelineTables } from '../pipeline/index.js';
import { BullmqQueue, openQueue } from '../queue/index.js';
import { dropDefaultSchemaTables, dropStoreSchema, listEmbeddedStores, listStoreSchemas, openStore, removeEmbeddedStore } from '../store/index.js';
import { openConfiguredBus, placementOf } from './environment.js';

/** A deployment: its config, the folder relative paths are resolved against, and its whole lake (every environment's). */
export interface Deployment {
  config: DetourConfig;
  baseDir: string;
  lake: Lake;
}

const SCHEMA_PREFIX = 'detour_';

/** The environments a deployment has: prod, and every other one with a lake folder, a schema or an embedded database. */
export async function listEnvironments(deployment: Deployment): Promise<string[]> {
  const { config, baseDir, lake } = deployment;
  const names = new Set<string>([DEFAULT_ENV]);
  for (const object of await lake.list(ENVS_PREFIX)) {
    const env = envOfKey(object.key);
    if (env !== undefined) names.add(env);
  }
  const stores = config.databaseUrl
    ? (await listStoreSchemas(config.databaseUrl, SCHEMA_PREFIX)).map((schema) => schema.slice(SCHEMA_PREFIX.length))
    : await listEmbeddedStores(path.join(placementOf(config, baseDir, DEFAULT_ENV).stateDir, 'envs'));
  for (const env of stores) names.add(env);
  return [...names].sort((a, b) => (a === DEFAULT_ENV ? -1 : b === DEFAULT_ENV ? 1 : a < b ? -1 : 1));
}

/** What `createEnvironment` made. */
export interface CreatedEnvironment {
  env: string;
  store: string;
  /** Production models copied, as `name v<version>`. */
  models: string[];
}

/**
 * Creates environment `env`: its run store (schema `detour_<env>` or its own embedded database,
 * migrated) and, with `copyModelsFrom`, the production models of that environment.
 * @throws InputError for the default environment, which always exists.
 */
export async function createEnvironment(deployment: Deployment, env: string, options: { copyModelsFrom?: string } = {}): Promise<CreatedEnvironment> {
  if (env === DEFAULT_ENV) throw new InputError(`${DEFAULT_ENV} always exists`);
  const { config, baseDir } = deployment;
  /** An environment's run store and lake, the store migrated as it opens. */
  const open = async (name: string) => {
    const placement = placementOf(config, baseDir, name);
    const store = await openStore({ databaseUrl: config.databaseUrl, stateDir: placement.stateDir, schema: placement.schema });
    return { store, lake: envLake(deployment.lake, placement.lakeEnv), env: name };
  };
  const target = await open(env);
  try {
    const models: string[] = [];
    if (options.copyModelsFrom !== undefined) {
      const source = await open(options.copyModelsFrom);
      try {
        for (const version of await copyProductionModels(source, target)) models.push(`${version.name} v${version.version}`);
      } finally {
        await source.store.close();
      }
    }
    return { env, store: target.store.description, models };
  } finally {
    await target.store.close();
  }
}

/** What `destroyEnvironment` removed. */
export interface DestroyedEnvironment {
  env: string;
  lakeObjects: number;
  /** The schema dropped, the tables dropped, or the embedded database removed; undefined when there was none. */
  store: string | undefined;
  /** Whether a Redis queue of the environment was obliterated (none with the embedded queue). */
  queue: boolean;
  /** Messages and durable consumers removed from the bus's stream (prod keeps its messages: its subjects are not apart). */
  bus: { messages: number; consumers: number } | undefined;
}

/**
 * Removes everything of environment `env` and nothing of any other: its lake keys, its schema (or
 * embedded database), its queue, its bus messages and consumers.
 * @throws InputError for prod without `force`.
 */
export async function destroyEnvironment(deployment: Deployment, env: string, options: { force?: boolean } = {}): Promise<DestroyedEnvironment> {
  if (env === DEFAULT_ENV && !options.force) throw new InputError(`refusing to destroy ${DEFAULT_ENV} without --force`);
  const { config, baseDir } = deployment;
  const placement = placementOf(config, baseDir, env);

  const lake = envLake(deployment.lake, placement.lakeEnv);
  // Prod's lake is the root: every other environment's folder under envs/ is not prod's.
  const keys = (await lake.list('')).map((object) => object.key).filter((key) => placement.lakeEnv !== undefined || envOfKey(key) === undefined);
  for (const key of keys) await lake.delete(key);

  let store: string | undefined;
  if (config.databaseUrl && placement.schema !== undefined) {
    store = (await dropStoreSchema(config.databaseUrl, placement.schema)) ? `schema ${placement.schema}` : undefined;
  } else if (config.databaseUrl) {
    const tables = Object.entries(config.pipelines).flatMap(([name, pipeline]) => {
      const { anomaliesTable, predictionsTable } = pipelineTables(name, pipeline);
      return [anomaliesTable, predictionsTable];
    });
    const dropped = await dropDefaultSchemaTables(config.databaseUrl, tables);
    store = dropped.length > 0 ? `tables ${dropped.join(', ')}` : undefined;
  } else {
    store = (await removeEmbeddedStore(placement.stateDir)) ? `database ${placement.stateDir}/db` : undefined;
  }

  let queue = false;
  if (config.queue.url) {
    const opened = await openQueue(config.queue.url, { prefix: placement.queuePrefix });
    try {
      if (opened instanceof BullmqQueue) {
        await opened.obliterate();
        queue = true;
      }
    } finally {
      await opened.close();
    }
  }

  let bus: DestroyedEnvironment['bus'];
  if (placement.busNamespace !== undefined) {
    const opened = await openConfiguredBus({ ...config, env });
    if (opened !== undefined) {
      try {
        bus = await opened.removeNamespace();
      } finally {
        await opened.close();
      }
    }
  }
  return { env, lakeObjects: keys.length, store, queue, bus };
}
