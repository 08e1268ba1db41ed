#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { assertEnvName } from '../config/index.js';
import { InputError, oneLine, QualityGateError } from '../errors.js';
import { DETOUR_VERSION } from '../version.js';
import { allCommands } from './commands.js';

/**
 * Exit codes: 0 ok, 1 run failed or infrastructure failed (PostgreSQL or Redis unreachable for
 * longer than detour waits: UnavailableError, whose line says what to do), 2 bad input (arguments,
 * config, data the run cannot proceed with, a failed quality gate).
 */
function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (error instanceof InputError || error instanceof QualityGateError) return 2;
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('detour')
    .description('anomaly-detection pipelines for mobility data')
    .version(DETOUR_VERSION)
    .option('--env <name>', 'the environment to work in (default: DETOUR_ENV, else prod): its own lake folder, schema, queue and bus subjects')
    .exitOverride()
    .showSuggestionAfterError()
    // Through the environment variable, so that the config loader and every process a command starts (serve's) see it.
    .hook('preAction', (command) => {
      const { env } = command.opts<{ env?: string }>();
      if (env !== undefined) process.env.DETOUR_ENV = assertEnvName(env, '--env');
    });
  for (const command of allCommands()) program.addCommand(command);
  // Settings are copied to subcommands only when they are created through the parent, so apply them down the tree.
  const configure = (command: Command) => {
    command.exitOverride();
    // Usage errors too are one line: `detour: unknown option '--dat' (Did you mean --date?)`.
    command.configureOutput({ outputError: (text, write) => write(`detour: ${oneLine(text.replace(/^error: /, ''))}\n`) });
    command.commands.forEach(configure);
  };
  configure(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    const code = exitCodeOf(error);
    // Commander has already printed its own message (usage errors, --help, --version).
    if (!(error instanceof CommanderError)) {
      console.error(`detour: ${oneLine(error)}`);
      if (code === 1 && process.env.DETOUR_DEBUG) console.error(error);
    }
    return code;
  }
}

process.exitCode = await main(process.argv);
