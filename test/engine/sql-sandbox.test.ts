import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, openSqlSandbox } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { FlakyLake } from '../helpers/flaky-lake.js';

/** A folder lake DuckDB cannot open in place, as S3: the sandbox has to stage its inputs. */
class RemoteLake extends FlakyLake {
  override localPath(): undefined {
    return undefined;
  }
}

describe('the config-SQL sandbox', () => {
  let lake: RemoteLake;
  let tempRoot: string;
  const previousTmp = process.env.TMPDIR;
  const INPUT = 'silver/trips/date=2024-01-01/data.parquet';

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-sql-sandbox-'));
    lake = new RemoteLake(new FsLake(path.join(root, 'lake')));
    const engine = await openEngine();
    try {
      await engine.exportQuery(`SELECT range AS trip, range % 3 AS zone FROM range(30)`, lake, INPUT, 'parquet');
    } finally {
      await engine.close();
    }
    // A private TMPDIR shows that the sandbox removes its staged copies and results.
    tempRoot = await mkdtemp(path.join(root, 'tmp-'));
    process.env.TMPDIR = tempRoot;
  });
  afterAll(() => {
    process.env.TMPDIR = previousTmp;
  });

  it('reads its staged inputs, keeps query results as tables and writes them to the lake', async () => {
    const sandbox = await openSqlSandbox(lake, [INPUT]);
    try {
      await sandbox.run(`SET VARIABLE trips_file = $1`, [sandbox.inputPaths[0]]);
      await sandbox.run(`CREATE VIEW trips AS SELECT * FROM read_parquet(getvariable('trips_file'))`);
      await sandbox.createTableAs('per_zone', 'SELECT zone, count(*) AS trips FROM trips GROUP BY zone;');
      await sandbox.createTableAs('busiest', `FROM per_zone ORDER BY trips DESC, zone LIMIT 1`);
      expect(await sandbox.exportQuery('SELECT * FROM per_zone ORDER BY ALL', lake, 'gold/per_zone/data.csv', 'csv')).toBe(3);
      await sandbox.exportQuery('SELECT * FROM busiest', lake, 'gold/busiest/data.csv', 'csv');
    } finally {
      await sandbox.close();
    }
    expect((await lake.get('gold/per_zone/data.csv')).toString()).toBe('zone,trips\n0,10\n1,10\n2,10\n');
    expect((await lake.get('gold/busiest/data.csv')).toString()).toBe('zone,trips\n0,10\n');
    expect((await readdir(tempRoot)).filter((name) => name.startsWith('detour-sandbox-'))).toEqual([]);
  });

  it('has external access, extension autoloading and configuration changes turned off', async () => {
    const sandbox = await openSqlSandbox(lake, [INPUT]);
    try {
      await sandbox.createTableAs(
        'settings',
        `SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration', 'autoload_known_extensions', 'autoinstall_known_extensions') ORDER BY name`,
      );
      await sandbox.exportQuery('SELECT * FROM settings', lake, 'gold/settings/data.csv', 'csv');
      await expect(sandbox.run('SET enable_external_access = true')).rejects.toThrow(/the configuration has been locked/);
      await expect(sandbox.createTableAs('passwd', `SELECT * FROM read_csv('/etc/passwd')`)).rejects.toThrow(InputError);
    } finally {
      await sandbox.close();
    }
    expect((await lake.get('gold/settings/data.csv')).toString()).toBe(
      'name,value\nautoinstall_known_extensions,false\nautoload_known_extensions,false\nenable_external_access,false\nlock_configuration,true\n',
    );
  });

  it.each([
    ['an empty query', '  -- nothing\n', /not one SQL query/],
    ['a syntax error', 'SELEC 1', /not one SQL query: .*syntax error/],
    ['a PRAGMA', 'PRAGMA version', /syntax error at or near "PRAGMA"/],
    ['an EXPLAIN', 'EXPLAIN SELECT 1', /only a query may run here, not EXPLAIN/],
  ])('refuses %s with an InputError', async (_, query, message) => {
    const sandbox = await openSqlSandbox(lake, []);
    try {
      const attempt = sandbox.createTableAs('result', query);
      await expect(attempt).rejects.toBeInstanceOf(InputError);
      await expect(attempt).rejects.toThrow(message);
    } finally {
      await sandbox.close();
    }
  });
});
