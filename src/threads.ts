/**
 * Worker threads running one of this package's modules: the compiled module beside the caller's,
 * or, run from sources (tests, tsx), the TypeScript one through tsx, as the caller itself runs.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * A thread running `module` (a path relative to `callerUrl`, without extension).
 *
 * @example
 * const thread = startModuleThread(import.meta.url, './detect-worker', { resourceLimits: { maxYoungGenerationSizeMb: 8 } });
 */
export function startModuleThread(callerUrl: string, module: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`${module}.js`, callerUrl), options);
  const source = new URL(`${module}.ts`, callerUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(source)}, ${JSON.stringify(source)}))`, { ...options, eval: true });
}
