/** The real CLI as a child process (TypeScript source through tsx), for fault tests that kill and wait on it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'vitest';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mainScript = path.join(projectRoot, 'src/cli/main.ts');
// tsx's loader by absolute URL, since the CLI runs in temp folders with no node_modules.
const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;

export interface DetourProcess {
  child: ChildProcess;
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string };
  /** Resolves with the exit code; kills the process and rejects if it has not exited within `timeoutMs`. */
  exited(timeoutMs: number): Promise<number>;
}

/** Starts `detour ARGS` in `cwd` with `env` added to this process's environment. */
export function startDetour(cwd: string, args: string[], env: Record<string, string> = {}): DetourProcess {
  const child = spawn(process.execPath, ['--import', tsxLoader, mainScript, ...args], { cwd, env: { ...process.env, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number);
  return {
    child,
    output: () => ({ stdout, stderr }),
    exited: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`detour ${args.join(' ')} still running after ${timeoutMs / 1000} s; stderr: ${stderr.slice(-2_000)}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exit, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Runs `detour ARGS` to the end (at most `timeoutMs`). */
export async function detour(cwd: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const started = startDetour(cwd, args, env);
  const code = await started.exited(timeoutMs);
  return { code, ...started.output() };
}

/** The lines in which detour said it waits for `service`. */
export function waitingLines(stderr: string, service: 'PostgreSQL' | 'Redis'): string[] {
  return stderr.split('\n').filter((line) => line.startsWith(`detour: waiting for ${service}`));
}

/**
 * Waits for `process` to fail with exit 1 (infrastructure, not bad input) after saying once that it
 * waits for `service`, and returns its error: the last line on stderr, at most 300 characters.
 */
export async function infrastructureFailure(process: DetourProcess, service: 'PostgreSQL' | 'Redis', timeoutMs: number): Promise<string> {
  expect(await process.exited(timeoutMs), process.output().stderr).toBe(1);
  const { stderr } = process.output();
  expect(waitingLines(stderr, service)).toHaveLength(1);
  const last = stderr.trimEnd().split('\n').at(-1) as string;
  expect(last.length).toBeLessThanOrEqual(300);
  return last;
}
