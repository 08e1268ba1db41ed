import { z } from 'zod';
import { DetourConfigSchema } from './schema.js';

/** JSON Schema of `detour.yaml`, for editor completion. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(DetourConfigSchema, { io: 'input' });
}
