import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Native DuckDB/PGlite handles are safest in child processes; 2 cores on CI.
    pool: 'forks',
    maxWorkers: 2,
  },
});
