import type { Command } from 'commander';
import { openApp, placementOf, type App, type ServiceOptions } from '../app/index.js';
import { loadConfig, type DetourConfig } from '../config/index.js';
import { envLake, openLake, type Lake } from '../lake/index.js';
import type { RunServices } from '../pipeline/index.js';
import { StepProgress } from './format.js';

/** Options every command accepts. */
export interface CommonOptions {
  config?: string;
  lake?: string;
}

export function withCommonOptions(command: Command): Command {
  return command
    .option('--config <file>', 'config file (default: ./detour.yaml if present, else built-in defaults)')
    .option('--lake <url>', 'lake URL: a folder (file://./lake, ./lake) or s3://bucket/prefix');
}

/** What a command works with: the app, whose services say when no worker is there to run steps. */
export type CliContext = App;

/** The config, and the lake of its environment (`lake`, closing the deployment's with it) and the deployment's whole lake (`deploymentLake`). */
export async function loadCliConfig(options: CommonOptions): Promise<{ config: DetourConfig; lake: Lake; deploymentLake: Lake; baseDir: string }> {
  const { config, baseDir } = await loadConfig({ file: options.config });
  const deploymentLake = openLake(options.lake ?? config.lake, { baseDir: options.lake ? process.cwd() : baseDir });
  return { config, lake: envLake(deploymentLake, placementOf(config, baseDir).lakeEnv, { closesOuter: true }), deploymentLake, baseDir };
}

/**
 * Opens the app of the config. `check` sees the config first, so that a name it refuses is one line
 * at once, before the store is opened.
 */
export async function openCliContext(options: CommonOptions, check?: (config: DetourConfig) => void): Promise<CliContext> {
  const { config, deploymentLake: lake, baseDir } = await loadCliConfig(options);
  let app: App;
  try {
    check?.(config);
    app = await openApp({ config, baseDir, lake });
  } catch (error) {
    await lake.close();
    throw error;
  }
  return {
    ...app,
    async services(serviceOptions?: ServiceOptions): Promise<RunServices> {
      const services = await app.services(serviceOptions);
      if (app.queue.kind === 'bullmq' && (await app.queue.workers()) === 0) {
        console.error(`detour: no worker is connected to the queue yet; steps wait until \`detour worker\` runs (QUEUE_URL, prefix ${config.queue.prefix})`);
      }
      return services;
    },
    async close() {
      await app.close();
      await lake.close();
    },
  };
}

/** Opens the context for one command (see openCliContext for `check`), and closes it whatever the command does. */
export async function withContext<T>(options: CommonOptions, work: (context: CliContext) => Promise<T>, check?: (config: DetourConfig) => void): Promise<T> {
  const context = await openCliContext(options, check);
  try {
    return await work(context);
  } finally {
    await context.close();
  }
}

/** Services for executing a run here, reporting each step's progress; the live bar is erased afterwards, failed or not. */
export async function withStepProgress<T>(context: CliContext, concurrency: number, work: (services: RunServices) => Promise<T>): Promise<T> {
  const progress = new StepProgress();
  try {
    return await work(await context.services({ concurrency, onStep: (event) => progress.update(event) }));
  } finally {
    progress.end();
  }
}
