import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../../src/app/index.js';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { FsLake, type Lake } from '../../src/lake/index.js';
import { runParamsOf, startRun, type RunResult, type RunServices, type StepEvent } from '../../src/pipeline/index.js';
import { openStore, type Store } from '../../src/store/index.js';

/** Embedded services as `detour run` builds them (through the composition root): an in-process queue whose worker is this process. */
export async function embeddedServices(lake: Lake, store: Store, options: { concurrency?: number; onStep?: (event: StepEvent) => void } = {}): Promise<RunServices> {
  const app = await openApp({ config: DetourConfigSchema.parse({}), lake, store });
  return app.services(options);
}

/** A folder lake and an embedded run store in a fresh temp folder (named `<prefix>…`), with embedded services over them; close `services.queue` and `store` after. */
export async function openTempServices(prefix: string, options: { concurrency?: number } = {}): Promise<{ lake: FsLake; store: Store; services: RunServices }> {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  const lake = new FsLake(path.join(root, 'lake'));
  const store = await openStore({ stateDir: path.join(root, 'state') });
  return { lake, store, services: await embeddedServices(lake, store, options) };
}

/** One run of `pipelineName` over `dates` (one or a range), as configured in `config`. */
export async function runPipeline(lake: Lake, store: Store, config: DetourConfig, pipelineName: string, dates: string[]): Promise<RunResult> {
  const services = await embeddedServices(lake, store);
  try {
    return await startRun(services, pipelineName, runParamsOf(config, pipelineName), dates);
  } finally {
    await services.queue.close();
  }
}

/**
 * The built-in configuration as the seed ran it: rides by DBSCAN alone (publishing every outlier)
 * and flights by ARIMA (without seasonal terms) and Isolation Forest on every airport-day, however
 * few flights behind it.
 */
export function seedConfig(): DetourConfig {
  const { pipelines } = DetourConfigSchema.parse({});
  const [dbscan] = pipelines.rides.detect;
  return DetourConfigSchema.parse({
    pipelines: {
      rides: { ...pipelines.rides, detect: [{ ...dbscan, standalone: true }] },
      flights: { ...pipelines.flights, detect: pipelines.flights.detect.map((step) => ({ ...step, support: undefined, minSupport: undefined, ...(step.detector === 'arima' ? { period: 0 } : {}) })) },
    },
  });
}
