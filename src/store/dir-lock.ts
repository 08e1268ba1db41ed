import { randomBytes } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { TransientError } from '../errors.js';

/** Exclusive ownership of a folder by this process, until released. */
export interface DirLock {
  /** Absolute path of the lock file, a sibling of the folder: `<folder>.lock`. */
  readonly path: string;
  /** Removes the lock file. Safe to call more than once. */
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Lock files this process holds; the pid in them cannot tell this process's two opens apart. */
const heldByThisProcess = new Set<string>();

/**
 * Takes an exclusive lock on `folder` through the lock file `<folder>.lock`, holding this process's
 * pid and host. A lock left by a process that no longer runs on this host is taken over. A live
 * owner, including an earlier open in this same process, is a TransientError naming it: the folder
 * frees up when that owner exits.
 *
 * Needed because PGlite itself does not lock its data folder, and two processes writing one folder
 * corrupt it. Taking over a stale lock is not atomic against another process doing the same at the
 * same instant, an accepted gap: it needs a crash followed by two simultaneous starts.
 */
export async function lockFolder(folder: string, purpose: string): Promise<DirLock> {
  const lockPath = `${resolve(folder)}.lock`;
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (heldByThisProcess.has(lockPath)) {
      throw inUse(folder, purpose, lockPath, me);
    }
    if (await tryCreateLockFile(lockPath, me)) {
      heldByThisProcess.add(lockPath);
      return {
        path: lockPath,
        release: async () => {
          if (heldByThisProcess.delete(lockPath)) {
            await rm(lockPath, { force: true });
          }
        },
      };
    }
    const owner = await readOwner(lockPath);
    if (owner !== undefined && isAlive(owner)) {
      throw inUse(folder, purpose, lockPath, owner);
    }
    await rm(lockPath, { force: true });
  }
  throw new TransientError(`${purpose} at ${folder} is being locked by another process; try again`);
}

/**
 * Creates the lock file with its content in one step: written under a temporary name, then
 * hard-linked into place, which fails if the lock exists. A reader never sees a half-written lock
 * and so never mistakes a starting owner for a stale one.
 */
async function tryCreateLockFile(lockPath: string, owner: LockOwner): Promise<boolean> {
  const tempPath = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(tempPath, JSON.stringify(owner));
  try {
    await link(tempPath, lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(tempPath, { force: true });
  }
}

/** The owner recorded in a lock file; undefined when it vanished or is unreadable (stale). */
async function readOwner(lockPath: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(lockPath, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      return { pid: parsed.pid, host: parsed.host, since: String(parsed.since) };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

function isAlive(owner: LockOwner): boolean {
  // A process on another host (shared folder) cannot be checked, so it is presumed alive.
  if (owner.host !== hostname()) return true;
  // Our own pid in a lock we do not hold was written by an earlier process that had this pid.
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(folder: string, purpose: string, lockPath: string, owner: LockOwner): TransientError {
  const who = owner.pid === process.pid && owner.host === hostname() ? 'this process' : `process ${owner.pid} on ${owner.host}`;
  return new TransientError(
    `${purpose} at ${folder} is in use by ${who} since ${owner.since} and allows one process at a time; ` +
      `wait for it to finish or use PostgreSQL via DATABASE_URL (if no such process runs, delete ${lockPath})`,
  );
}
