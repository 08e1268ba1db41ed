import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mainScript = path.join(projectRoot, 'src/cli/main.ts');
// tsx's loader by absolute URL, since the CLI runs in temp folders with no node_modules.
const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;

/** The real CLI (TypeScript source through tsx) in `cwd`, on embedded PGlite and the inline queue: exit code, stdout and stderr. */
export async function detour(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { LOG_LEVEL: _inherited, ...env } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', tsxLoader, mainScript, ...args], { cwd, env: { ...env, DATABASE_URL: '', QUEUE_URL: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}
