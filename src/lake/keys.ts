import { InputError, NotFoundError } from '../errors.js';

/**
 * What is wrong with an object key, or undefined when it is valid: keys are `/`-separated and
 * relative, with no empty, `.` or `..` segments and no `\`. Both adapters enforce the same
 * rules so that a key valid on one lake is valid on the other, and so that no key can escape
 * the root folder of a filesystem lake.
 */
export function keyProblem(key: string): string | undefined {
  if (key === '') return 'keys cannot be empty';
  if (key.includes('\\')) return 'use / as the separator';
  if (key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    return 'empty, "." and ".." segments are not allowed';
  }
  return undefined;
}

/** Returns `key` when valid (see keyProblem); throws InputError otherwise. */
export function assertKey(key: string): string {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InputError(`invalid lake key "${key}": ${problem}`);
  return key;
}

/**
 * Validates a list prefix: empty, a folder such as `bronze/rides/`, or a partial key such as
 * `bronze/rides/date=2024-01`. Any prefix is a key with its last segment cut short, so it is
 * valid when completing that segment yields a valid key.
 */
export function assertPrefix(prefix: string): string {
  const problem = prefix === '' ? undefined : keyProblem(`${prefix}_`);
  if (problem !== undefined) throw new InputError(`invalid lake prefix "${prefix}": ${problem}`);
  return prefix;
}

/** Sort order of list(): both adapters sort with it so that results compare equal across lakes. */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The error get/getFile throw for a missing object, worded the same by every adapter. */
export function objectNotFound(key: string, lakeUrl: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`no object "${key}" in lake ${lakeUrl}`, { cause });
}
