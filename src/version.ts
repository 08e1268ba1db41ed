import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** detour's version from its package.json, found from source (tests) and from `dist/` alike. */
export const DETOUR_VERSION: string = (() => {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name, version } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
      if (name === 'detour' && version) return version;
    }
    if (path.dirname(dir) === dir) return '0.0.0-unknown';
  }
})();
