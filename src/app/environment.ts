import path from 'node:path';
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
