/** The dashboard's built files (`npm run build` puts them in `dist/web/`), served at `/` beside the API. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of the built dashboard, found from sources (tests) and from `dist/` alike: `dist/web`
 * of the package detour runs from; undefined when it has not been built.
 */
export function webAppRoot(): string | undefined {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'detour') {
      const root = path.join(dir, 'dist', 'web');
      return existsSync(path.join(root, 'index.html')) ? root : undefined;
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}
