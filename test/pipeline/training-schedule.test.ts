import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineScheduler, type RunServices } from '../../src/pipeline/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { sensorConfig, writeSensorSilver } from '../../bench/sensor-lake.js';
import { embeddedServices } from '../helpers/pipeline.js';

/** The sensors pipeline with its training step on a weekly schedule (Mondays 03:00 UTC, for the day before). */
function weeklyConfig(lake: string, params = '{ trees: 50 }'): DetourConfig {
  const yaml = sensorConfig({ lake, prefix: 'unused', history: 7, partitions: 2, trees: 50, maxSamples: 64 })
    .replace('params: { trees: 50, maxSamples: 64, contamination: 0.01 }', `params: ${params}`)
    .replace('promote: auto', 'promote: auto\n        schedule: { cron: "0 3 * * 1" }');
  return parseConfigText(yaml, 'detour.yaml');
}

describe('training schedules under detour serve', () => {
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-training-schedule-'));
    lake = new FsLake(path.join(root, 'lake'));
    await writeSensorSilver(lake, { sensors: 3, from: '2024-01-01', to: '2024-01-14', stepMinutes: 60 });
    store = await openStore({ stateDir: path.join(root, 'state') });
    services = await embeddedServices(lake, store);
  });
  afterAll(async () => {
    await services?.queue.close();
    await store?.close();
  });

  it('trains on its own cron beside the detection schedule, once per tick', async () => {
    let now = new Date('2024-01-15T04:00:00Z');
    const errors: string[] = [];
    const scheduler = pipelineScheduler(services, weeklyConfig(lake.url), ['sensors'], { now: () => now, onError: (key, date) => errors.push(`${key} ${date}`) });
    const launched = await scheduler.tick();
    expect(launched).toEqual([{ pipeline: 'sensors/train/sensor_iforest', logicalDate: '2024-01-14' }]);
    // The daily detection run of the same tick had no bronze input: its own failure, not training's.
    expect(errors).toEqual(['sensors 2024-01-14']);
    const [training] = (await store.listRuns({ pipeline: 'sensors' })).filter((run) => run.params.training !== undefined);
    expect(training).toMatchObject({ status: 'succeeded', logicalDate: '2024-01-14' });
    expect((await store.listModels({ name: 'sensor_iforest' })).map((model) => `${model.name}@${model.version} ${model.stage} ${model.window.from}..${model.window.to}`)).toEqual(
      ['S01', 'S02', 'S03'].map((sensor) => `sensor_iforest/${sensor}@1 production 2024-01-08..2024-01-14`),
    );
    expect(await lake.exists(`runs/sensors/${training.id}/train/summary.json`)).toBe(true);
    now = new Date('2024-01-16T04:00:00Z');
    expect((await scheduler.tick()).filter((run) => run.pipeline.includes('/train/'))).toEqual([]);
  });

  it('refuses to start with a training step whose params its detector does not take', () => {
    expect(() => pipelineScheduler(services, weeklyConfig(lake.url, '{ trees: 0 }'), ['sensors'])).toThrow(InputError);
    expect(() => pipelineScheduler(services, weeklyConfig(lake.url, '{ trees: 0 }'), ['sensors'])).toThrow(/^pipelines\.sensors\.train\.0\.params\.trees: Too small/);
  });
});
