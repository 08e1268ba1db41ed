import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig, type DetourConfig } from '../config/index.js';
import { openLake, type Lake } from '../lake/index.js';
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

/** What a command works with; `close()` releases the store and lake clients. */
export interface CliContext {
  config: DetourConfig;
  lake: Lake;
  store: Store;
  close(): Promise<void>;
}

export async function loadCliConfig(options: CommonOptions): Promise<{ config: DetourConfig; lake: Lake; baseDir: string }> {
  const { config, baseDir } = await loadConfig({ file: options.config });
  const lake = openLake(options.lake ?? config.lake, { baseDir: options.lake ? process.cwd() : baseDir });
  return { config, lake, baseDir };
}

export async function openCliContext(options: CommonOptions): Promise<CliContext> {
  const { config, lake, baseDir } = await loadCliConfig(options);
  try {
    const store = await openStore({ databaseUrl: config.databaseUrl, stateDir: path.resolve(baseDir, config.stateDir) });
    return {
      config,
      lake,
      store,
      async close() {
        await store.close();
        await lake.close();
      },
    };
  } catch (error) {
    await lake.close();
    throw error;
  }
}
