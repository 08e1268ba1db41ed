import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApp, openConfiguredBus, type App } from '../../src/app/index.js';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { openEngine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';
import type { LandedEvent } from '../../src/bus/index.js';
import { announceLanded, ingestFile, ingestPartitionedFile, runForLanded, runParamsOf, startRun, startTrainingRun, trainingParamsOf, type RunServices } from '../../src/pipeline/index.js';
import { generateFleetRidesCsv, readCityWeather, weatherCsvPath, writeSampleFleetFiles } from '../../src/sample/index.js';
import { openStore, type RunRecord, type Store } from '../../src/store/index.js';
import { detour, startDetour, type DetourProcess } from '../faults/detour-process.js';
import { deleteNatsStream, NATS_URL } from '../helpers/nats.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const TRAINING_DAYS = dateRange('2015-03-02', '2015-03-08');
const LANDED_DAY = '2015-03-09';
/** Enough rides that a run takes a while, so that it is killed mid-way. */
const LANDED_RIDES = 100_000;

describe('event-driven ingest on NATS JetStream: a landed file runs the fleet pipeline once, even when its process is killed mid-run', () => {
  const id = randomBytes(6).toString('hex');
  const stream = `E2E_${id}`;
  let database: TestDatabase;
  let root: string;
  let configFile: string;
  let config: DetourConfig;
  let store: Store;
  let app: App;
  let services: RunServices;
  /** What `detour ingest` announces for the landed file. */
  let landed: LandedEvent;
  const serves: DetourProcess[] = [];
  const env = () => ({ DATABASE_URL: database.url, QUEUE_URL: '', BUS_URL: '' });

  beforeAll(async () => {
    database = await createTestDatabase();
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-landed-'));
    configFile = path.join(root, 'detour.yaml');
    // A delivery unacknowledged for 2 s comes again; a run not heartbeating for 3 s is failed.
    const yaml = `lake: ${path.join(root, 'lake')}
bus: { url: "${NATS_URL}", stream: ${stream}, subjectPrefix: e2e_${id}, ackWaitSeconds: 2, retryDelaySeconds: 1 }
liveness: { leaseSeconds: 3, heartbeatSeconds: 1 }
`;
    await writeFile(configFile, yaml);
    config = parseConfigText(yaml, configFile);
    const lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ databaseUrl: database.url, stateDir: root });
    app = await openApp({ config, lake, store });
    services = await app.services({ concurrency: 2 });
    // The weather of the days, cleaned; a week of rides, cleaned and joined; the weekly model trained on it.
    await ingestPartitionedFile(lake, { dataset: 'weather', file: weatherCsvPath(), partitionBy: 'date' });
    await startRun(services, 'weather', runParamsOf(config, 'weather'), [...TRAINING_DAYS, LANDED_DAY]);
    const engine = await openEngine();
    try {
      await writeSampleFleetFiles(engine, path.join(root, 'rides'), { from: TRAINING_DAYS[0], to: TRAINING_DAYS.at(-1) as string, ridesPerDay: 200, seed: 3 }, async (logicalDate, file) => {
        await ingestFile(lake, { dataset: 'fleet_rides', file, logicalDate });
      });
      const file = path.join(root, 'landed-rides.csv');
      await writeFile(file, generateFleetRidesCsv(LANDED_DAY, LANDED_RIDES, 3, (await readCityWeather(engine, 'New York', LANDED_DAY, LANDED_DAY)).get(LANDED_DAY)!));
      const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
      landed = { dataset: 'fleet_rides', date: LANDED_DAY, key: `bronze/fleet_rides/date=${LANDED_DAY}/landed-rides.csv`, sha256 };
    } finally {
      await engine.close();
    }
    await startRun(services, 'fleet', runParamsOf(config, 'fleet'), TRAINING_DAYS);
    await startTrainingRun(services, 'fleet', trainingParamsOf(config, 'fleet'), TRAINING_DAYS.at(-1) as string);
  }, 300_000);
  afterAll(async () => {
    for (const serve of serves) serve.child.kill('SIGKILL');
    await app?.close();
    await store?.close();
    await deleteNatsStream(stream).catch(() => undefined);
    await database?.drop();
  });

  /** `detour serve` for the event-driven pipelines; resolves once it listens. */
  const serve = async (): Promise<DetourProcess> => {
    const started = startDetour(root, ['serve', '--config', configFile, '--pipeline', 'weather,fleet', '--metrics-port', '0', '--tick-seconds', '3600'], env());
    serves.push(started);
    while (!started.output().stdout.includes('serving:')) {
      if (started.child.exitCode !== null) throw new Error(`serve exited: ${started.output().stderr}`);
      await sleep(50);
    }
    return started;
  };
  const triggeredRuns = (): Promise<RunRecord[]> => store.runsTriggeredBy('fleet', { landed });

  it('runs the pipeline for the landed partition; a serve killed mid-run leaves the event to the next, which finishes the run: every ride predicted once', async () => {
    const first = await serve();
    expect(first.output().stdout).toMatch(new RegExp(`on landed files: weather, fleet \\(${NATS_URL.replaceAll('.', '\\.')} \\(stream ${stream}, subjects e2e_${id}\\.>\\)\\)`));

    const ingest = await detour(root, ['ingest', 'fleet_rides', '--file', path.join(root, 'landed-rides.csv'), '--date', LANDED_DAY, '--config', configFile], env());
    expect(ingest.stderr).toBe('');
    expect(ingest.stdout).toMatch(/^announced 1 landed file on nats:\/\//m);

    // The run for the landed file shows up with a step running: kill its process there.
    let killedRun: RunRecord | undefined;
    while (killedRun === undefined) {
      const [run] = await triggeredRuns();
      const running = run === undefined ? [] : (await store.listSteps(run.id)).filter((step) => step.status === 'running');
      if (running.length > 0) {
        first.child.kill('SIGKILL');
        killedRun = run;
      } else await sleep(20);
    }
    await first.exited(10_000);

    // The next serve gets the unacknowledged event again, waits out the dead run's lease and resumes it.
    const second = await serve();
    let runs = await triggeredRuns();
    while (runs[0]?.status !== 'succeeded') {
      if (second.child.exitCode !== null) throw new Error(`serve exited: ${second.output().stderr}`);
      await sleep(200);
      runs = await triggeredRuns();
    }
    expect(runs.map((run) => run.id)).toEqual([killedRun.id]);
    const predictions = await store.listPredictions('fleet_predictions', LANDED_DAY);
    expect(predictions).toHaveLength(LANDED_RIDES);
    expect(new Set(predictions.map((row) => row.id)).size).toBe(LANDED_RIDES);
    expect(predictions.every((row) => row.runId === killedRun?.id && row.model.version === 1)).toBe(true);
    while (!second.output().stdout.includes('succeeded for')) await sleep(50);
    expect(second.output().stdout).toMatch(new RegExp(`^fleet ${LANDED_DAY}: run ${killedRun.id} succeeded for bronze/fleet_rides/date=${LANDED_DAY}/landed-rides\\.csv$`, 'm'));

    // The same file announced again is dropped by the bus; an event that still comes again finds its run done.
    const bus = await openConfiguredBus(config);
    try {
      expect(await announceLanded(bus!, [landed])).toEqual({ published: 0, duplicates: 1 });
      expect(await runForLanded(services, config, 'fleet', landed)).toMatchObject({ status: 'already', run: { id: killedRun.id } });
    } finally {
      await bus?.close();
    }
    second.child.kill('SIGTERM');
    expect(await second.exited(30_000)).toBe(0);
    expect(second.output().stderr).toBe('');
    expect(await triggeredRuns()).toHaveLength(1);
  }, 300_000);
});
