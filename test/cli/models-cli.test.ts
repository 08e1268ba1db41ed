import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FsLake } from '../../src/lake/index.js';
import { sensorConfig, writeSensorSilver } from '../../bench/sensor-lake.js';
import { detour } from '../helpers/cli.js';

describe('detour train and detour models', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-models-cli-'));
    await writeSensorSilver(new FsLake(path.join(cwd, 'lake')), { sensors: 3, from: '2024-01-01', to: '2024-01-14', stepMinutes: 60 });
    await writeFile(path.join(cwd, 'detour.yaml'), sensorConfig({ lake: './lake', prefix: 'cli', history: 7, partitions: 2, trees: 50, maxSamples: 64 }));
  });

  it('trains, lists, shows, promotes, rolls back and compares versions', async () => {
    const first = await detour(cwd, 'train', 'sensors', '--date', '2024-01-14');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^training run \S+ of sensors for 2024-01-14 succeeded in [\d.]+ s$/m);
    expect(first.stdout).toMatch(/^model sensor_iforest \(window 2024-01-08\.\.2024-01-14\): 3 trained, 0 skipped$/m);
    expect(first.stdout).toMatch(/^sensor_iforest\/S01 +1 +0\.\d+ +production +auto: no production version before$/m);
    expect(first.stdout).toMatch(/^summary: file:\/\/.*\/runs\/sensors\/\S+\/train\/summary\.json$/m);

    // One entity again, a day earlier; an entity with no rows is skipped with why.
    const again = await detour(cwd, 'train', 'sensors', '--date', '2024-01-13', '--entity', 'S02,S07');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^sensor_iforest\/S02 +2 +0\.\d+ +(production|candidate) +(auto|not promoted): .*validation_loss/m);
    expect(again.stdout).toContain('skipped S07: no rows in 2024-01-07..2024-01-13');

    const list = await detour(cwd, 'models', 'list', '--name', 'sensor_iforest');
    expect(list.stdout).toMatch(/^sensor_iforest\/S02 +1 +\w+ +iforest +0\.\d+ +2024-01-08\.\.2024-01-14 /m);
    expect(list.stdout).toMatch(/^sensor_iforest\/S02 +2 /m);
    expect(list.stdout.match(/^sensor_iforest\//gm)).toHaveLength(4);

    await detour(cwd, 'models', 'promote', 'sensor_iforest/S02', '2');
    const promote = await detour(cwd, 'models', 'promote', 'sensor_iforest/S02', '1');
    expect(promote).toMatchObject({ code: 0, stdout: 'sensor_iforest/S02 v1 is production (was v2)\n' });
    const rollback = await detour(cwd, 'models', 'rollback', 'sensor_iforest/S02');
    expect(rollback).toMatchObject({ code: 0, stdout: 'sensor_iforest/S02 v2 is production again (rolled back from v1)\n' });

    const show = await detour(cwd, 'models', 'show', 'sensor_iforest/S02@1');
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^stage +archived$/m);
    expect(show.stdout).toMatch(/^validation_loss +0\.\d+$/m);
    expect(show.stdout).toMatch(/^trees +50$/m);
    expect(show.stdout).toContain('training inputs (7)');
    expect(show.stdout).toMatch(/^silver\/sensors\/date=2024-01-08\/data\.parquet +[0-9a-f]{64}$/m);
    expect(show.stdout).toMatch(/^\S+ +1 +archived +rolled back to v2$/m);
    expect(show.stdout).toMatch(/^\S+ +2 +production +rollback from v1$/m);

    const diff = await detour(cwd, 'models', 'diff', 'sensor_iforest/S02', '1', '2');
    expect(diff.stdout).toMatch(/^training window +2024-01-08\.\.2024-01-14 +2024-01-07\.\.2024-01-13$/m);
    expect(diff.stdout).toMatch(/^metrics\.validation_loss +0\.\d+ +0\.\d+ +[+-]?\d/m);

    expect((await detour(cwd, 'runs')).stdout).toMatch(/ sensors \(train\) +2024-01-14 +succeeded /);
  }, 240_000);

  it.each([
    [['models', 'promote', 'sensor_iforest/S01', '9'], 'detour: model sensor_iforest/S01 has no version 9 (versions: 1)'],
    [['models', 'promote', 'sensor_iforest/S01', 'two'], 'detour: VERSION must be a whole number of at least 1, got "two"'],
    [['models', 'show', 'sensor_iforest'], 'detour: no model named sensor_iforest (models are named <model>/<entity>; `detour models list --name sensor_iforest` lists them)'],
    [['models', 'rollback', 'sensor_iforest/S03'], 'detour: model sensor_iforest/S03 v1 replaced no earlier production version: nothing to roll back to'],
    [['train', 'sensors', '--model', 'nope'], 'detour: pipeline "sensors" trains no model "nope" (models: sensor_iforest)'],
  ])('exits 2 with one line for detour %j', async (args, message) => {
    const result = await detour(cwd, ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`${message}\n`);
  }, 60_000);
});
