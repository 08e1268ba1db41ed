import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { assertEnvName } from './env-name.js';
import { DetourConfigSchema, type DetourConfig } from './schema.js';

/** A validated config plus where it came from, with paths already resolved. */
export interface LoadedConfig {
  config: DetourConfig;
  /** The file read, or undefined when running on built-in defaults. */
  file: string | undefined;
  /** Folder that relative paths in the config are resolved against. */
  baseDir: string;
}

export const DEFAULT_CONFIG_FILE = 'detour.yaml';

export interface LoadConfigOptions {
  /** Explicit `--config FILE`; it must exist. */
  file?: string;
  /** Where to look for `detour.yaml` when no file is given. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Reads and validates `detour.yaml` (or the built-in defaults when there is none). Every error is
 * one line naming the file, line and field, e.g.
 * `detour.yaml:7: pipelines.rides.dbscan.eps: Invalid input: expected number, received string`.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const explicit = options.file !== undefined;
  const file = path.resolve(cwd, options.file ?? DEFAULT_CONFIG_FILE);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || explicit) {
      throw new InputError(`cannot read config ${file}: ${code ?? String(error)}`, { cause: error });
    }
  }
  const config = text === undefined ? DetourConfigSchema.parse({}) : parseConfigText(text, file);
  if (env.DATABASE_URL) config.databaseUrl = env.DATABASE_URL;
  if (env.QUEUE_URL) config.queue.url = env.QUEUE_URL;
  if (env.BUS_URL) config.bus.url = env.BUS_URL;
  if (env.DETOUR_ENV) config.env = assertEnvName(env.DETOUR_ENV, 'DETOUR_ENV');
  return { config, file: text === undefined ? undefined : file, baseDir: text === undefined ? cwd : path.dirname(file) };
}

/** Parses YAML text into a validated config; `fileName` is used in messages only. */
export function parseConfigText(text: string, fileName: string): DetourConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number | undefined) =>
    offset === undefined ? fileName : `${fileName}:${lineCounter.linePos(offset).line}`;
  const yamlError = document.errors[0];
  if (yamlError) {
    throw new InputError(`${where(yamlError.pos[0])}: invalid YAML: ${yamlError.message.split('\n')[0]}`);
  }
  const raw: unknown = document.toJS() ?? {};
  const result = DetourConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const fieldPath = issuePath(issue);
  const field = fieldPath.length > 0 ? fieldPath.join('.') : '(top level)';
  throw new InputError(`${where(offsetOf(document, fieldPath))}: ${field}: ${issue.message}`);
}

function issuePath(issue: z.core.$ZodIssue): PropertyKey[] {
  // An unknown key is reported on its parent; point at the key itself.
  if (issue.code === 'unrecognized_keys') return [...issue.path, issue.keys[0]];
  return issue.path;
}

/** Source offset of the deepest node that exists along `fieldPath`. */
function offsetOf(document: Document, fieldPath: PropertyKey[]): number | undefined {
  for (let depth = fieldPath.length; depth >= 0; depth--) {
    const prefix = fieldPath.slice(0, depth);
    if (depth > 0) {
      const parent = prefix.length > 1 ? document.getIn(prefix.slice(0, -1), true) : document.contents;
      if (isMap(parent)) {
        const pair = parent.items.find((item) => String((item.key as { value?: unknown })?.value ?? item.key) === String(prefix[prefix.length - 1]));
        const keyRange = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
        if (keyRange) return keyRange[0];
      }
    }
    const node = document.getIn(prefix, true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return node.range[0];
  }
  return undefined;
}
