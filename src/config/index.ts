import { z } from 'zod';
import { DetourConfigSchema } from './schema.js';

export { loadConfig, parseConfigText, DEFAULT_CONFIG_FILE } from './load.js';
export type { LoadedConfig, LoadConfigOptions } from './load.js';
export { DetourConfigSchema } from './schema.js';
export type { DetourConfig, DbscanParams, RideColumns, RidesPipelineConfig } from './schema.js';

/** JSON Schema of `detour.yaml`, for editor completion. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(DetourConfigSchema, { io: 'input' });
}
