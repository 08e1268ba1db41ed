import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const srcDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src');

/** Which capabilities each capability may import; data flows one way (docs/ARCHITECTURE.md). */
const ALLOWED: Record<string, string[]> = {
  detectors: [],
  lake: [],
  store: [],
  config: [],
  queue: [],
  scheduler: [],
  observability: [],
  sinks: [],
  bus: [],
  engine: ['lake'],
  quality: ['engine'],
  sample: ['engine', 'lake'],
  pipeline: ['bus', 'config', 'detectors', 'engine', 'lake', 'observability', 'quality', 'queue', 'scheduler', 'sinks', 'store'],
  app: ['bus', 'config', 'lake', 'observability', 'pipeline', 'queue', 'sinks', 'store'],
  server: ['app', 'config', 'detectors', 'observability', 'pipeline', 'store'],
  cli: ['app', 'bus', 'config', 'engine', 'lake', 'observability', 'pipeline', 'queue', 'sample', 'server', 'store'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : [],
  );
}

describe('module boundaries', () => {
  const imports = sourceFiles(srcDir).flatMap((file) => {
    const capability = path.relative(srcDir, file).split(path.sep)[0];
    const specifiers = [...readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((match) => match[1]);
    return specifiers.map((specifier) => ({
      file: path.relative(srcDir, file),
      capability,
      target: path.relative(srcDir, path.resolve(path.dirname(file), specifier)),
    }));
  });

  it('knows every capability folder', () => {
    const folders = readdirSync(srcDir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    expect(folders.sort()).toEqual(Object.keys(ALLOWED).sort());
  });

  it('imports other capabilities only through their index.ts, and only downwards', () => {
    const violations = imports.flatMap(({ file, capability, target }) => {
      const [targetCapability, ...rest] = target.split(path.sep);
      if (rest.length === 0 || targetCapability === capability) return []; // shared top-level module, or own folder
      if (rest.join('/') !== 'index.js') return [`${file} reaches inside ${target}`];
      if (!ALLOWED[capability]?.includes(targetCapability)) return [`${file} imports ${targetCapability}, a capability it may not depend on`];
      return [];
    });
    expect(violations).toEqual([]);
  });
});
