#!/usr/bin/env node
// Usage: node scripts/lock-duckdb-platforms.mjs package-lock.json   (run after every `npm install`)
// The registry mirror here serves only the linux-x64 DuckDB bindings, so npm leaves the other
// platforms' optional packages out of the lock, and `npm ci` then refuses the lock. Add them as
// optional, platform-restricted entries (never fetched on linux-x64).
import { readFileSync, writeFileSync } from 'node:fs';
const file = process.argv[2];
const lock = JSON.parse(readFileSync(file, 'utf8'));
const bindings = lock.packages['node_modules/@duckdb/node-bindings'];
const platforms = {
  'darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'linux-arm64': { os: ['linux'], cpu: ['arm64'], libc: ['glibc'] },
  'linux-arm64-musl': { os: ['linux'], cpu: ['arm64'], libc: ['musl'] },
  'win32-arm64': { os: ['win32'], cpu: ['arm64'] },
  'win32-x64': { os: ['win32'], cpu: ['x64'] },
};
for (const [platform, fields] of Object.entries(platforms)) {
  const key = `node_modules/@duckdb/node-bindings-${platform}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = { version: bindings.version, cpu: fields.cpu, ...(fields.libc ? { libc: fields.libc } : {}), license: 'MIT', optional: true, os: fields.os };
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
