import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineScheduler, type RunServices } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { embeddedServices } from '../helpers/pipeline.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Two `detour serve` schedulers (two processes' worth: two store connections, two queues) on one
 * PostgreSQL run store, driven by a simulated clock: the daily rides pipeline at 02:00 UTC
 * processes the previous day.
 */
describe('scheduled runs: catch-up after downtime, never twice', () => {
  let database: TestDatabase;
  let lake: FsLake;
  const stores: Store[] = [];
  const services: RunServices[] = [];
  let now = new Date('2024-06-02T03:00:00Z');
  const errors: string[] = [];
  const config = DetourConfigSchema.parse({});

  beforeAll(async () => {
    database = await createTestDatabase();
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-schedule-'));
    lake = new FsLake(path.join(root, 'lake'));
    await writeSampleRides(lake, { from: '2024-06-01', to: '2024-06-05', ridesPerDay: 3_000, seed: 5, format: 'parquet' });
    for (let i = 0; i < 2; i++) {
      const store = await openStore({ databaseUrl: database.url, stateDir: root });
      stores.push(store);
      services.push(await embeddedServices(lake, store));
    }
  });
  afterAll(async () => {
    for (const service of services) await service.queue.close();
    for (const store of stores) await store.close();
    await database.drop();
  });

  const schedulers = () => services.map((service) => pipelineScheduler(service, config, ['rides'], { now: () => now, onError: (pipeline, date, error) => errors.push(`${pipeline} ${date}: ${String(error)}`) }));

  it('runs the latest due date on first start, then catches up exactly the three days it was stopped for', async () => {
    const [first] = schedulers();
    expect(await first.tick()).toEqual([{ pipeline: 'rides', logicalDate: '2024-06-01' }]);
    expect(await first.tick()).toEqual([]);

    // Stopped for three days; two schedulers come back at the same time.
    now = new Date('2024-06-05T03:00:00Z');
    const launched = (await Promise.all(schedulers().map((scheduler) => scheduler.tick()))).flat();
    expect(launched.map((run) => run.logicalDate).sort()).toEqual(['2024-06-02', '2024-06-03', '2024-06-04']);
    expect(errors).toEqual([]);

    const runs = await stores[0].listRuns({ pipeline: 'rides' });
    expect(runs).toHaveLength(4);
    expect(runs.every((run) => run.status === 'succeeded')).toBe(true);
    expect(runs.map((run) => run.logicalDate).sort()).toEqual(['2024-06-01', '2024-06-02', '2024-06-03', '2024-06-04']);
    expect(await stores[1].succeededDates('rides', '2024-06-01', '2024-06-05')).toEqual(['2024-06-01', '2024-06-02', '2024-06-03', '2024-06-04']);

    // Before the next 02:00 nothing is due, whoever ticks.
    now = new Date('2024-06-06T01:59:00Z');
    expect((await Promise.all(schedulers().map((scheduler) => scheduler.tick()))).flat()).toEqual([]);
  });

  it('with catchup false, runs only the latest missed date', async () => {
    const noCatchup = DetourConfigSchema.parse({});
    noCatchup.pipelines.rides.schedule.catchup = false;
    now = new Date('2024-06-08T03:00:00Z');
    await writeSampleRides(lake, { from: '2024-06-07', to: '2024-06-07', ridesPerDay: 3_000, seed: 5, format: 'parquet' });
    const launched = await pipelineScheduler(services[0], noCatchup, ['rides'], { now: () => now }).tick();
    expect(launched).toEqual([{ pipeline: 'rides', logicalDate: '2024-06-07' }]);
  });
});
