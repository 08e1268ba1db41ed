import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { ERROR_LINE_MAX, InputError } from '../../src/errors.js';
import { FsLake, type Lake } from '../../src/lake/index.js';
import { runParamsOf, startRun } from '../../src/pipeline/index.js';
import { generateRidesCsv } from '../../src/sample/index.js';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';
import { embeddedServices } from '../helpers/pipeline.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { detour } from './detour-process.js';

const DATE = '2024-06-01';
/** What reading a UTF-16 file as UTF-8 puts in an error message: NUL between every character, and a lot of it. */
const UTF16_MESSAGE = `rides.csv: missing columns ride_id, taxi_id (found: ${Array.from('ride_id,taxi_id,pickup_ts,dropoff_ts', (char) => `${char}\u0000`).join('').repeat(20)})`;

/** No control character, no line break: what PostgreSQL stores and a terminal shows as one line. */
const PRINTABLE_LINE = /^[^\u0000-\u001f\u007f-\u009f]*$/;

/** A lake whose silver writes fail with the UTF-16 message, as the clean step did on a UTF-16 CSV. */
function failingSilverLake(inner: FsLake): Lake {
  const fail = (key: string) => {
    if (key.startsWith('silver/rides/')) throw new InputError(UTF16_MESSAGE);
  };
  return new Proxy(inner, {
    get(target, property) {
      if (property === 'put') return async (key: string, body: Buffer | string) => (fail(key), target.put(key, body));
      if (property === 'putFile') return async (localPath: string, key: string) => (fail(key), target.putFile(localPath, key));
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe.each([
  { name: 'pglite', prepare: async (root: string) => ({ options: { stateDir: root } as OpenStoreOptions, drop: async () => {} }) },
  {
    name: 'postgres',
    prepare: async (root: string) => {
      const database: TestDatabase = await createTestDatabase();
      return { options: { databaseUrl: database.url, stateDir: root }, drop: () => database.drop() };
    },
  },
])('a step error full of NUL bytes, on $name', ({ prepare }) => {
  let store: Store;
  let drop: () => Promise<void>;
  let fsLake: FsLake;
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-fault-nul-'));
    const prepared = await prepare(root);
    drop = prepared.drop;
    store = await openStore(prepared.options);
    fsLake = new FsLake(path.join(root, 'lake'));
    await fsLake.put(`bronze/rides/date=${DATE}/rides.csv`, generateRidesCsv(DATE, 500, 1));
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
    await rm(root, { recursive: true, force: true });
  });

  it('is stored as one printable line pointing at its full text in the lake, and the step and run end failed, not running', async () => {
    const services = await embeddedServices(failingSilverLake(fsLake), store);
    const config = DetourConfigSchema.parse({ pipelines: { rides: { ...DetourConfigSchema.parse({}).pipelines.rides, retry: { retries: 0 } } } });
    const error: unknown = await startRun(services, 'rides', runParamsOf(config, 'rides'), [DATE]).catch((caught: unknown) => caught);
    await services.queue.close();

    expect(error).toBeInstanceOf(InputError); // bad data: exit 2, as before
    const [run] = await store.listRuns({ pipeline: 'rides', limit: 1 });
    const key = `runs/rides/${run.id}/errors/clean-${DATE}.txt`;
    expect((error as Error).message).toBe(run.error);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(PRINTABLE_LINE);
    expect(run.error).toMatch(/^rides\.csv: missing columns ride_id, taxi_id \(found: r\\x00i\\x00d\\x00e\\x00_\\x00/);
    expect(run.error!.endsWith(`… (full text in the lake: ${key})`)).toBe(true);
    expect(run.error!.length).toBeLessThanOrEqual(ERROR_LINE_MAX);

    const steps = await store.listSteps(run.id);
    expect(steps.map((step) => [step.step, step.status])).toEqual([
      ['clean', 'failed'],
      ['quality', 'pending'],
      ['aggregate', 'skipped'],
      ['detect', 'pending'],
      ['detect', 'pending'],
      ['detect', 'pending'],
      ['publish', 'pending'],
    ]);
    expect(steps[0].error).toBe(run.error);
    expect((await fsLake.get(key)).toString()).toContain(UTF16_MESSAGE);
  });
});

describe('a UTF-16 CSV through the CLI on PostgreSQL', () => {
  let database: TestDatabase;
  let cwd: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-fault-utf16-'));
    const lake = new FsLake(path.join(cwd, 'lake'));
    await lake.put(`bronze/rides/date=${DATE}/rides.csv`, Buffer.from(`\ufeff${generateRidesCsv(DATE, 500, 1)}`, 'utf16le'));
    await writeFile(path.join(cwd, 'detour.yaml'), 'lake: ./lake\n');
  });
  afterAll(async () => {
    await database?.drop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('fails the run with one line of at most 300 characters, and leaves no run running', async () => {
    const env = { DATABASE_URL: database.url };
    const run = await detour(cwd, ['run', 'rides', '--date', DATE], env);
    const last = run.stderr.trimEnd().split('\n').at(-1) as string;

    expect(run.code).toBe(2);
    expect(last).toMatch(/^detour: /);
    expect(last.length).toBeLessThanOrEqual(300);
    expect(run.stderr).not.toContain('\u0000');

    const runs = await detour(cwd, ['runs'], env);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/^\S+\s+rides\s+2024-06-01\s+failed\s/m);
    expect(runs.stdout).not.toMatch(/\srunning\s/);
  });
});
