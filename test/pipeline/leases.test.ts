import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, type App } from '../../src/app/index.js';
import { DetourConfigSchema } from '../../src/config/index.js';
import { FsLake } from '../../src/lake/index.js';
import { runParamsOf, startRun } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { LeaseLostError, openStore, type Store } from '../../src/store/index.js';
import { FlakyLake } from '../helpers/flaky-lake.js';

const [D1, D2] = ['2024-09-01', '2024-09-02'];
/** Leases far shorter than a stalled step, renewed often. */
const config = DetourConfigSchema.parse({ liveness: { leaseSeconds: 1.5, heartbeatSeconds: 0.2 } });

describe('run leases in embedded mode', () => {
  let lake: FlakyLake;
  let store: Store;
  let app: App;

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-leases-'));
    const fsLake = new FsLake(path.join(root, 'lake'));
    lake = new FlakyLake(fsLake);
    store = await openStore({ stateDir: path.join(root, 'state') });
    app = await openApp({ config, lake, store });
    await writeSampleRides(fsLake, { from: D1, to: D2, ridesPerDay: 2_000, seed: 5, format: 'parquet' });
  });
  afterAll(async () => {
    await app.close();
    await store.close();
  });

  /** Polls the runs the way another process listing them would (which fails expired ones) until `done`. */
  async function listWhile(done: Promise<unknown>): Promise<string[]> {
    let settled = false;
    void done.finally(() => (settled = true)).catch(() => {});
    const seen: string[] = [];
    while (!settled) {
      seen.push(...(await store.listRuns({ limit: 1 })).map((run) => run.status));
      await sleep(100);
    }
    return seen;
  }

  it('keeps a run alive through a step longer than its lease, its coordinator renewing the lease', async () => {
    lake.stallWrites(/^silver\/rides\/date=2024-09-01\//, 1, 3_500);
    const running = startRun(await app.services(), 'rides', runParamsOf(config, 'rides'), [D1]);
    const seen = await listWhile(running);

    const result = await running;
    expect(result.run.status).toBe('succeeded');
    // Never failed by lease expiry while the step ran (the last listing may already see it succeeded).
    expect(seen.filter((status) => status !== 'running' && status !== 'succeeded')).toEqual([]);
    expect(result.run.leaseExpiresAt).toBeNull();
    expect(result.steps.every((step) => step.leaseExpiresAt === null)).toBe(true);
  });

  it('stops a coordinator whose run another process failed meanwhile, leaving that failure as recorded', async () => {
    lake.stallWrites(/^silver\/rides\/date=2024-09-02\//, 1, 3_500);
    const running = startRun(await app.services(), 'rides', runParamsOf(config, 'rides'), [D2]);
    let runId: string | undefined;
    while (runId === undefined) {
      runId = (await store.listRuns({ limit: 1 })).find((run) => run.logicalDate === D2 && run.status === 'running')?.id;
      await sleep(20);
    }
    await store.finishRun(runId, { status: 'failed', error: 'stopped by an operator' });

    const error = await running.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect((error as Error).message).toBe(`this process lost run ${runId}: stopped by an operator`);
    expect(await store.getRun(runId)).toMatchObject({ status: 'failed', error: 'stopped by an operator' });
  });
});
