import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, DetourConfigSchema, loadConfig, parseConfigText, writeDefaultConfig } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';

describe('config', () => {
  it('falls back to built-in defaults when there is no detour.yaml', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-config-'));
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.file).toBeUndefined();
    expect(loaded.config.lake).toBe('file://./lake');
    expect(loaded.config.stateDir).toBe('./.detour');
    expect(loaded.config.pipelines.rides).toEqual({
      dataset: 'rides',
      format: 'auto',
      columns: { rideId: 'ride_id', taxiId: 'taxi_id', pickupTs: 'pickup_ts', dropoffTs: 'dropoff_ts', rideDistKm: 'ride_dist_km', rideTimeMin: 'ride_time_min' },
      dbscan: { eps: 0.3, minSamples: 10, scale: 'standard' },
      expectations: [
        { type: 'row_count_between', min: 1, severity: 'fail' },
        { type: 'mean_between', column: 'ride_time_min', min: 2, max: 90, severity: 'warn' },
        { type: 'between', column: 'ride_dist_km', max: 1000, severity: 'warn' },
      ],
    });
  });

  it('reads detour.yaml, keeps defaults for what it omits, and lets DATABASE_URL win', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-config-'));
    await writeFile(path.join(cwd, 'detour.yaml'), 'lake: s3://bucket/lake\ndatabaseUrl: postgres://a@b/c\npipelines:\n  rides:\n    columns:\n      rideTimeMin: duration_min\n    dbscan:\n      eps: 0.5\n');
    const loaded = await loadConfig({ cwd, env: { DATABASE_URL: 'postgres://x@y/z' } });
    expect(loaded.file).toBe(path.join(cwd, 'detour.yaml'));
    expect(loaded.baseDir).toBe(cwd);
    expect(loaded.config.lake).toBe('s3://bucket/lake');
    expect(loaded.config.databaseUrl).toBe('postgres://x@y/z');
    expect(loaded.config.pipelines.rides.columns.rideTimeMin).toBe('duration_min');
    expect(loaded.config.pipelines.rides.columns.rideDistKm).toBe('ride_dist_km');
    expect(loaded.config.pipelines.rides.dbscan).toEqual({ eps: 0.5, minSamples: 10, scale: 'standard' });
  });

  it('fails on an explicit --config file that does not exist', async () => {
    await expect(loadConfig({ file: '/nonexistent/detour.yaml', env: {} })).rejects.toThrow(/cannot read config \/nonexistent\/detour.yaml: ENOENT/);
  });

  it.each([
    ['a wrong type', 'lake: ./lake\npipelines:\n  rides:\n    dbscan:\n      eps: abc\n', 'my.yaml:5: pipelines.rides.dbscan.eps: Invalid input: expected number, received string'],
    ['an out-of-range value', 'pipelines:\n  rides:\n    dbscan:\n      minSamples: 0\n', 'my.yaml:4: pipelines.rides.dbscan.minSamples:'],
    ['an unknown top-level key', 'lake: ./lake\nlakes: ./other\n', 'my.yaml:2: lakes: Unrecognized key'],
    ['a misspelt nested key', 'pipelines:\n  rides:\n    columns:\n      rideid: id\n', 'my.yaml:4: pipelines.rides.columns.rideid: Unrecognized key'],
    ['a bad enum', 'pipelines:\n  rides:\n    dbscan:\n      scale: minmax\n', 'my.yaml:4: pipelines.rides.dbscan.scale:'],
    ['broken YAML', 'lake: [a,\n', 'my.yaml:'],
  ])('names the line and field for %s', (_, text, expected) => {
    let caught: unknown;
    try {
      parseConfigText(text, 'my.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as Error).message).toContain(expected);
    expect((caught as Error).message).not.toContain('\n');
  });

  it('init writes an editable detour.yaml that loads back to the defaults, and will not overwrite it', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-init-'));
    const { configFile, schemaFile } = await writeDefaultConfig(cwd);
    const text = await readFile(configFile, 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=\.\/detour\.schema\.json/);
    expect(text).toContain('minSamples: 10');
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.file).toBe(configFile);
    expect(loaded.config).toEqual(DetourConfigSchema.parse({}));
    expect(JSON.parse(await readFile(schemaFile, 'utf8'))).toHaveProperty('properties.pipelines');
    await expect(writeDefaultConfig(cwd)).rejects.toThrow(/already exists; pass --force/);
    await expect(writeDefaultConfig(cwd, { force: true })).resolves.toBeDefined();
  });

  it('exports a JSON Schema for editors', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['lake', 'stateDir', 'databaseUrl', 'pipelines']));
  });
});
