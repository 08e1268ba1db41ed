import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { InputError } from '../errors.js';
import { DEFAULT_CONFIG_FILE } from './load.js';
import { DetourConfigSchema } from './schema.js';
import { configJsonSchema } from './json-schema.js';

export const SCHEMA_FILE = 'detour.schema.json';

/**
 * Writes the built-in configuration, every default spelt out, as an editable `detour.yaml`, and
 * its JSON Schema beside it for editor completion. Refuses to overwrite unless `force`.
 */
export async function writeDefaultConfig(directory: string, options: { force?: boolean } = {}): Promise<{ configFile: string; schemaFile: string }> {
  const configFile = path.join(directory, DEFAULT_CONFIG_FILE);
  const schemaFile = path.join(directory, SCHEMA_FILE);
  const header = `# yaml-language-server: $schema=./${SCHEMA_FILE}\n# detour configuration: every value below is the built-in default. See README.md.\n`;
  const flag = options.force ? 'w' : 'wx';
  try {
    await writeFile(configFile, header + stringify(DetourConfigSchema.parse({})), { flag });
    await writeFile(schemaFile, `${JSON.stringify(configJsonSchema(), null, 2)}\n`, { flag: 'w' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new InputError(`${configFile} already exists; pass --force to overwrite it`);
    throw error;
  }
  return { configFile, schemaFile };
}
