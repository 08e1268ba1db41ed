import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// Vite 8 transforms TSX with oxc: JSX goes to Preact's automatic runtime (preact/jsx-runtime).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  // Relative asset URLs: the app works wherever `detour serve` (or a proxy) mounts it.
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
});
