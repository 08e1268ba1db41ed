import path from 'node:path';
import { openBus, type EventBus } from '../bus/index.js';
import { DEFAULT_ENV, type DetourConfig } from '../config/index.js';

/** Where one environment of a deployment keeps everything: the same services, its own part of each. */
export interface EnvironmentPlacement {
  env: string;
  /** Its lake's folder in the deployment's lake (`envs/<env>/`); undefined for prod: the lake's root. */
  lakeEnv: string | undefined;
  /** Its embedded database's state folder: `<stateDir>` for prod, `<stateDir>/envs/<env>` for others. */
  stateDir: string;
  /** Its PostgreSQL schema, `detour_<env>`; undefined for prod: the server's default (public). */
  schema: string | undefined;
  /** BullMQ's key prefix on Redis: `<prefix>` for prod, `<prefix>_<env>` for others. */
  queuePrefix: string;
  /** Its part of the bus's stream (subjects `<subjectPrefix>.<env>.…`); undefined for prod. */
  busNamespace: string | undefined;
}

/**
 * Where `env` (default: the config's) lives. Prod keeps today's keys, tables, queue and subjects
 * exactly, so a deployment that never names an environment sees no change.
 *
 * @example
 * placementOf(config, '/srv/detour', 'ci_42').schema; // 'detour_ci_42'
 */
export function placementOf(config: DetourConfig, baseDir: string, env = config.env): EnvironmentPlacement {
  const stateDir = path.resolve(baseDir, config.stateDir);
  if (env === DEFAULT_ENV) return { env, lakeEnv: undefined, stateDir, schema: undefined, queuePrefix: config.queue.prefix, busNamespace: undefined };
  return { env, lakeEnv: env, stateDir: path.join(stateDir, 'envs', env), schema: `detour_${env}`, queuePrefix: `${config.queue.prefix}_${env}`, busNamespace: env };
}

/**
 * The event bus `config.bus` describes, connected (its stream created if missing), in the part of
 * it that belongs to `config.env`; undefined when it names none. For commands that need the bus
 * but not the run store, such as `detour ingest`. `subjectPrefix` replaces the config's, and
 * `namespace: null` opens the whole prefix, as the results sink does (its subjects name the env).
 */
export async function openConfiguredBus(config: DetourConfig, options: { subjectPrefix?: string; namespace?: null } = {}): Promise<EventBus | undefined> {
  const { bus } = config;
  if (bus.url === undefined) return undefined;
  const namespace = options.namespace === null ? undefined : placementOf(config, '.').busNamespace;
  return openBus({
    url: bus.url,
    stream: bus.stream,
    subjectPrefix: options.subjectPrefix ?? bus.subjectPrefix,
    ...(namespace === undefined ? {} : { namespace }),
    ackWaitMs: bus.ackWaitSeconds * 1000,
    maxDeliveries: bus.maxDeliveries,
    duplicateWindowMs: bus.duplicateWindowSeconds * 1000,
  });
}
