import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { FsLake, openLake, type Lake } from '../../src/lake/index.js';
import { pipelineLayout } from '../../src/pipeline/index.js';
import { writeSampleRides } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { runPipeline } from '../helpers/pipeline.js';
import { setS3Env, startS3Server, type S3TestServer } from '../helpers/s3-server.js';

const CONFIG = DetourConfigSchema.parse({});
const DAY = '2024-05-01';

describe('rides pipeline on S3 (s3rver) and a PostgreSQL server', () => {
  let server: S3TestServer;
  let restoreEnv: () => void;
  let database: TestDatabase;
  let s3Lake: Lake;
  let postgresStore: Store;
  let tempRoot: string;
  const previousTmp = process.env.TMPDIR;

  beforeAll(async () => {
    server = await startS3Server({ bucket: 'rides-lake' });
    restoreEnv = setS3Env(server);
    database = await createTestDatabase();
    // A private TMPDIR shows that the engine removes the S3 objects it staged.
    tempRoot = await mkdtemp(path.join(os.tmpdir(), 'detour-s3-tmp-'));
    process.env.TMPDIR = tempRoot;
    s3Lake = openLake('s3://rides-lake/prod/lake');
    postgresStore = await openStore({ databaseUrl: database.url, stateDir: '/nonexistent-unused' });
  });
  afterAll(async () => {
    process.env.TMPDIR = previousTmp;
    await postgresStore?.close();
    await s3Lake?.close();
    await database?.drop();
    restoreEnv?.();
    await server?.stop();
  });

  it('runs end to end with the same results as on a folder lake with PGlite', async () => {
    expect(s3Lake.url).toBe('s3://rides-lake/prod/lake');
    await writeSampleRides(s3Lake, { from: DAY, to: DAY, ridesPerDay: 10_000, seed: 11, format: 'parquet' });
    const { run, summaries: [summary] } = await runPipeline(s3Lake, postgresStore, CONFIG, 'rides', [DAY]);
    expect(summary).toMatchObject({ run_id: run.id, rows_read: 10_000, rows_quarantined: 0 });
    const outliers = summary.anomalies;
    expect(outliers).toBeGreaterThan(0);
    expect(run.outliers).toBe(outliers);
    expect((await readdir(tempRoot)).filter((name) => name.startsWith('detour-engine-'))).toEqual([]);

    const layout = pipelineLayout('rides', CONFIG.pipelines.rides, DAY);
    const s3Anomalies = await s3Lake.get(layout.anomalies);
    expect((await s3Lake.list('gold/')).map((object) => object.key)).toEqual([layout.anomalies, layout.summary]);

    // Rows landed in the server's ride_anomalies table, keyed by (date, ride id).
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ count: string; runs: string }>(
        `SELECT count(*) AS count, count(DISTINCT run_id) AS runs FROM ride_anomalies WHERE logical_date = $1`,
        [DAY],
      );
      expect(Number(rows[0].count)).toBe(outliers);
      expect(Number(rows[0].runs)).toBe(1);
      const runs = await client.query(`SELECT status, rows_read FROM detour_runs WHERE id = $1`, [run.id]);
      expect(runs.rows).toEqual([{ status: 'succeeded', rows_read: '10000' }]);
    } finally {
      await client.end();
    }

    // Same input on the embedded default gives byte-identical anomalies.
    const localRoot = await mkdtemp(path.join(tempRoot, 'local-'));
    const localLake = new FsLake(path.join(localRoot, 'lake'));
    await localLake.put(`bronze/rides/date=${DAY}/rides.parquet`, await s3Lake.get(`bronze/rides/date=${DAY}/rides.parquet`));
    const localStore = await openStore({ stateDir: path.join(localRoot, 'state') });
    try {
      const { summaries: [local] } = await runPipeline(localLake, localStore, CONFIG, 'rides', [DAY]);
      expect(local.input.sha256).toBe(summary.input.sha256);
      expect(await localLake.get(layout.anomalies)).toEqual(s3Anomalies);
      expect(local.detections).toEqual(summary.detections);
    } finally {
      await localStore.close();
    }
  });
});
