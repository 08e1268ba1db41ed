import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEnvironment, destroyEnvironment, listEnvironments, openApp, type App, type Deployment } from '../../src/app/index.js';
import { assertEnvName, DetourConfigSchema, loadConfig, type DetourConfig } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { runParamsOf, startRun, type RunResult } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { STORE_TABLES } from '../../src/store/index.js';
import { deleteNatsStream, NATS_URL, readNatsMessages } from '../helpers/nats.js';
import { seedConfig } from '../helpers/pipeline.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { REDIS_URL } from '../helpers/workers.js';

const DAY = '2024-03-01';

describe('environment names', () => {
  it('accepts lower_snake names and refuses others, and production\'s bus subject roots, in one line', () => {
    expect(assertEnvName('ci_branch_42')).toBe('ci_branch_42');
    for (const name of ['Staging', 'ci-42', '42ci', '', 'a'.repeat(41), 'lake', 'storage']) {
      expect(() => assertEnvName(name, '--env'), name).toThrow(InputError);
    }
    expect(() => assertEnvName('ci-42', '--env')).toThrow('--env "ci-42" must be a lower_snake identifier');
  });

  it('reads DETOUR_ENV, refusing a bad one', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-env-name-'));
    expect((await loadConfig({ cwd, env: { DETOUR_ENV: 'green' } })).config.env).toBe('green');
    expect((await loadConfig({ cwd, env: {} })).config.env).toBe('prod');
    await expect(loadConfig({ cwd, env: { DETOUR_ENV: 'Green' } })).rejects.toThrow('DETOUR_ENV "Green" must be a lower_snake identifier');
  });
});

describe('two environments side by side on one PostgreSQL, Redis, NATS and lake', () => {
  const id = randomBytes(5).toString('hex');
  const stream = `ENVS_${id}`;
  const subjectPrefix = `envs_${id}`;
  let database: TestDatabase;
  let deployment: Deployment;
  const apps = new Map<string, App>();
  const runs = new Map<string, RunResult>();

  /** What an environment holds: its runs, anomalies, models, lake objects and messages on the bus. */
  async function contents(env: string) {
    const app = apps.get(env) as App;
    return {
      runs: (await app.store.listRuns({})).map((run) => run.id).sort(),
      anomalies: (await app.store.listAnomalies('ride_anomalies', DAY)).length,
      models: (await app.store.listModels({})).map((model) => `${model.name} v${model.version}`),
      lakeObjects: (await app.lake.list('')).length,
      messages: (await readNatsMessages(stream, `${subjectPrefix}.${env}.>`)).length,
    };
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-envs-'));
    const { rides } = seedConfig().pipelines;
    const config: DetourConfig = DetourConfigSchema.parse({
      databaseUrl: database.url,
      queue: { url: REDIS_URL, prefix: `envs_${id}` },
      bus: { url: NATS_URL, stream, subjectPrefix },
      pipelines: { rides: { ...rides, publish: { ...rides.publish, bus: { enabled: true, subjectPrefix } } } },
    });
    deployment = { config, baseDir: root, lake: new FsLake(path.join(root, 'lake')) };
    for (const [env, seed] of [['blue', 7], ['green', 8]] as const) {
      await createEnvironment(deployment, env);
      const app = await openApp({ config: { ...config, env }, baseDir: root, lake: deployment.lake });
      apps.set(env, app);
      await app.work(1);
      await writeSampleRides(app.lake, { from: DAY, to: DAY, ridesPerDay: env === 'blue' ? 3_000 : 2_000, seed, format: 'parquet' });
    }
  }, 120_000);
  afterAll(async () => {
    for (const app of apps.values()) await app.close();
    await deleteNatsStream(stream).catch(() => undefined);
    await database?.drop();
  });

  it('runs the same pipeline in both at once, each seeing only its own runs, models, anomalies, lake keys and messages', async () => {
    const results = await Promise.all(
      ['blue', 'green'].map(async (env) => {
        const app = apps.get(env) as App;
        return [env, await startRun(await app.services(), 'rides', runParamsOf(app.config, 'rides'), [DAY])] as const;
      }),
    );
    for (const [env, result] of results) runs.set(env, result);
    // A model registered in blue is blue's alone.
    const blueStore = (apps.get('blue') as App).store;
    const reserved = await blueStore.reserveModelVersion({ name: 'ride_time', detector: 'iforest', entity: 'T1', params: {}, window: { from: DAY, to: DAY }, inputs: [], detourVersion: 'test', trainingRunId: runs.get('blue')!.run.id });
    await blueStore.registerModelVersion('ride_time', reserved.version, { artifact: { key: 'models/ride_time/T1/v1/model-0.json', sha256: '0'.repeat(64), bytes: 1 }, metrics: { validation_loss: 1 }, note: 'registered' });

    const blue = await contents('blue');
    const green = await contents('green');
    expect(blue.runs).toEqual([runs.get('blue')!.run.id]);
    expect(green.runs).toEqual([runs.get('green')!.run.id]);
    expect(blue.anomalies).toBe(runs.get('blue')!.run.outliers);
    expect(green.anomalies).toBe(runs.get('green')!.run.outliers);
    expect(blue.anomalies).not.toBe(green.anomalies);
    expect(blue.models).toEqual(['ride_time v1']);
    expect(green.models).toEqual([]);
    // Each message of an environment is one anomaly or one state change of its own run.
    expect(blue.messages).toBe(blue.anomalies + 2);
    expect(green.messages).toBe(green.anomalies + 2);
    expect((await deployment.lake.list('envs/blue/')).length).toBe(blue.lakeObjects);
    expect((await deployment.lake.list('envs/green/')).length).toBe(green.lakeObjects);
    // Nothing landed in prod's keys.
    expect((await deployment.lake.list('')).filter((object) => !object.key.startsWith('envs/'))).toEqual([]);
    expect(await listEnvironments(deployment)).toEqual(['prod', 'blue', 'green']);
  }, 180_000);

  it('knows every table the migrations create, so destroying prod --force leaves none behind', async () => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', ['detour_blue']);
      const configTables = ['ride_anomalies'];
      expect(rows.map((row) => row.table_name).filter((table) => !configTables.includes(table) && !STORE_TABLES.includes(table))).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('destroys green and leaves blue as it was; prod is refused without --force', async () => {
    const blueBefore = await contents('blue');
    await (apps.get('green') as App).close();
    apps.delete('green');

    const destroyed = await destroyEnvironment(deployment, 'green');
    expect(destroyed).toMatchObject({ env: 'green', store: 'schema detour_green', queue: true });
    expect(destroyed.lakeObjects).toBeGreaterThan(0);
    expect(destroyed.bus?.messages).toBeGreaterThan(0);

    expect(await contents('blue')).toEqual(blueBefore);
    expect(await deployment.lake.list('envs/green/')).toEqual([]);
    expect(await readNatsMessages(stream, `${subjectPrefix}.green.>`)).toEqual([]);
    expect(await listEnvironments(deployment)).toEqual(['prod', 'blue']);

    await expect(destroyEnvironment(deployment, 'prod')).rejects.toThrow('refusing to destroy prod without --force');
    expect(await contents('blue')).toEqual(blueBefore);
  }, 120_000);
});
