import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type DetourConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { openLake, type Lake } from '../lake/index.js';
import { createLogger, Metrics, type Logger } from '../observability/index.js';
import { stepJobHandler, type RunServices, type StepEvent } from '../pipeline/index.js';
import { openQueue, type JobQueue } from '../queue/index.js';
import { openStore, type Store } from '../store/index.js';

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

/** What a command works with; `close()` releases the queue, store and lake clients. */
export interface CliContext {
  config: DetourConfig;
  lake: Lake;
  store: Store;
  queue: JobQueue;
  logger: Logger;
  metrics: Metrics;
  /** Services for running pipelines; in embedded mode this process also executes the steps. */
  services(options?: { concurrency?: number; onStep?: (event: StepEvent) => void }): Promise<RunServices>;
  close(): Promise<void>;
}

export async function loadCliConfig(options: CommonOptions): Promise<{ config: DetourConfig; lake: Lake; baseDir: string }> {
  const { config, baseDir } = await loadConfig({ file: options.config });
  const lake = openLake(options.lake ?? config.lake, { baseDir: options.lake ? process.cwd() : baseDir });
  return { config, lake, baseDir };
}

export async function openCliContext(options: CommonOptions): Promise<CliContext> {
  const { config, lake, baseDir } = await loadCliConfig(options);
  if (config.queue.url && !config.databaseUrl) {
    await lake.close();
    // Workers on other processes read and record runs; embedded PGlite belongs to one process.
    throw new InputError('a distributed queue (QUEUE_URL) needs a run store every process shares: set DATABASE_URL=postgres://...');
  }
  const closers: (() => Promise<void>)[] = [() => lake.close()];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  try {
    const store = await openStore({ databaseUrl: config.databaseUrl, stateDir: path.resolve(baseDir, config.stateDir) });
    closers.push(() => store.close());
    const queue = await openQueue(config.queue.url, {
      prefix: config.queue.prefix,
      lockDurationMs: config.queue.lockSeconds * 1000,
      stalledIntervalMs: config.queue.lockSeconds * 1000,
    });
    closers.push(() => queue.close());
    const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
    const metrics = new Metrics({ queueDepth: async () => ({ ...(await queue.depth()) }) });
    let working = false;
    return {
      config,
      lake,
      store,
      queue,
      logger,
      metrics,
      async services(serviceOptions = {}) {
        // Embedded: this process is the worker. Distributed: `detour worker` processes are.
        if (queue.kind === 'inline' && !working) {
          await queue.work(stepJobHandler({ lake, store, logger, metrics }), { concurrency: serviceOptions.concurrency ?? 1 });
          working = true;
        }
        if (queue.kind === 'bullmq' && (await queue.workers()) === 0) {
          console.error(`detour: no worker is connected to the queue yet; steps wait until \`detour worker\` runs (QUEUE_URL, prefix ${config.queue.prefix})`);
        }
        return {
          lake,
          store,
          queue,
          logger,
          metrics,
          onStep: serviceOptions.onStep,
        };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
