#!/usr/bin/env node
// Usage: node scripts/lock-platform-packages.mjs package-lock.json   (run after every `npm install`)
// The registry mirror of our build machines serves only linux-x64 native packages, so npm leaves
// the other platforms' optional packages (DuckDB bindings, msgpackr-extract, ...) out of the lock,
// and `npm ci` then refuses the lock. This adds every missing optional platform package as an
// optional, platform-restricted entry, which npm never fetches on another platform.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
const lock = JSON.parse(readFileSync(file, 'utf8'));

/** os, cpu and libc of a package named like `...-linux-arm64-musl`, or undefined. */
function platformOf(name) {
  const match = /-(darwin|linux|win32|freebsd|android)-(arm64|x64|arm|ia32)(-(musl|gnu))?$/.exec(name);
  if (!match) return undefined;
  const [, os, cpu, , libc] = match;
  return { os: [os], cpu: [cpu], ...(os === 'linux' ? { libc: [libc === 'musl' ? 'musl' : 'glibc'] } : {}) };
}

let added = 0;
for (const entry of Object.values(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const platform = platformOf(name);
    if (lock.packages[key] || platform === undefined) continue;
    lock.packages[key] = { version, ...platform, optional: true };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`${file}: ${added} platform package(s) added`);
