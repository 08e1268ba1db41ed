import { InputError } from '../errors.js';

/** The environment a deployment runs in unless told otherwise: its keys, tables, queues and subjects are today's. */
export const DEFAULT_ENV = 'prod';

/**
 * Names an environment may not take: the first subject token of the production bus topics
 * (`<prefix>.lake.landed`, `<prefix>.storage.events`), which an environment's own subjects
 * (`<prefix>.<env>.…`) would otherwise share, and whose removal would then reach production's.
 */
const RESERVED_ENV_NAMES: readonly string[] = ['lake', 'storage'];

/** Length bound that keeps `detour_<env>` a PostgreSQL identifier (63 bytes) with room to spare. */
const MAX_ENV_NAME_LENGTH = 40;

/** What is wrong with an environment name, or undefined when it is a lower_snake identifier detour can use. */
export function envNameProblem(name: string): string | undefined {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) return 'must be a lower_snake identifier (a-z, 0-9 and _, starting with a letter)';
  if (name.length > MAX_ENV_NAME_LENGTH) return `must be at most ${MAX_ENV_NAME_LENGTH} characters`;
  if (RESERVED_ENV_NAMES.includes(name)) return `is reserved (${RESERVED_ENV_NAMES.join(', ')} name production's bus subjects)`;
  return undefined;
}

/**
 * Returns `name` when it is a valid environment name; throws InputError (exit 2) naming where it came from otherwise.
 *
 * @example
 * assertEnvName(process.env.DETOUR_ENV ?? 'prod', 'DETOUR_ENV');
 */
export function assertEnvName(name: string, source = 'environment'): string {
  const problem = envNameProblem(name);
  if (problem !== undefined) throw new InputError(`${source} "${name}" ${problem}`);
  return name;
}
