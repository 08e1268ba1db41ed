import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance, StatementType, type DuckDBConnection, type DuckDBExtractedStatements, type DuckDBPreparedStatement } from '@duckdb/node-api';
import { InputError, oneLine } from '../errors.js';
import type { Lake } from '../lake/index.js';
import { engineOn, type Engine } from './duckdb-engine.js';
import { sqlIdentifier } from './sql-identifier.js';

/**
 * A private DuckDB for SQL written in a config file (aggregate steps): it reads the files it was
 * opened with and nothing else, writes nothing, loads no extension and cannot be reconfigured.
 * detour's own SQL (views over the inputs, exports of results to the lake) runs beside it through
 * `run` and `exportQuery`, which the same limits bind except that the sandbox's temp folder is
 * writable.
 */
export interface SqlSandbox extends Pick<Engine, 'run' | 'exportQuery' | 'close'> {
  /** Local paths of the input keys, in the order given: the only lake files the sandbox can read. */
  readonly inputPaths: readonly string[];
  /**
   * Runs config SQL and keeps its result as table `table`, where later config SQL can read it by
   * name.
   * @throws InputError unless `query` is exactly one query (SELECT, FROM, VALUES, WITH ...; a
   * trailing `;` is fine) that binds, reading only what the sandbox may read. Errors while it runs
   * are DuckDB's.
   */
  createTableAs(table: string, query: string): Promise<void>;
}

/** The settings that close the instance, in this order: once the configuration is locked, none could be set. */
const LOCKDOWN = [
  'SET autoinstall_known_extensions = false',
  'SET autoload_known_extensions = false',
  // Instance-wide and one-way: no file, URL, extension, ATTACH or secret beyond the allowed lists.
  'SET enable_external_access = false',
  'SET lock_configuration = true',
];

class DuckDbSqlSandbox implements SqlSandbox {
  /** CREATE TABLE AS texts found to be one query and run once already. */
  private readonly checkedStatements = new Set<string>();

  constructor(
    private readonly instance: DuckDBInstance,
    /** Also the engine's connection: statements are extracted and prepared on it directly. */
    private readonly connection: DuckDBConnection,
    private readonly engine: Engine,
    readonly inputPaths: readonly string[],
  ) {}

  run: Engine['run'] = (sql, params) => this.engine.run(sql, params);
  exportQuery: Engine['exportQuery'] = (sql, lake, key, format, params) => this.engine.exportQuery(sql, lake, key, format, params);

  async createTableAs(table: string, query: string): Promise<void> {
    const create = `CREATE OR REPLACE TABLE ${sqlIdentifier(table)} AS ${query}`;
    // The same text parses the same: once checked here (a step runs once per date), it runs as it is.
    if (this.checkedStatements.has(create)) {
      await this.connection.run(create);
      return;
    }
    const statementType = await this.withStatement(query, (statement) => statement.statementType);
    if (statementType !== StatementType.SELECT) {
      // DuckDB files INSTALL under LOAD.
      const kind = statementType === StatementType.LOAD ? 'INSTALL or LOAD' : StatementType[statementType].replaceAll('_', ' ');
      throw new InputError(`only a query may run here, not ${kind}`);
    }
    // Runs exactly the statement that was extracted and counted, not a fresh parse of the text.
    await this.withStatement(create, (statement) => statement.run());
    this.checkedStatements.add(create);
  }

  /**
   * Prepares `sql` as exactly one statement and calls `use` with it. DuckDB's own parser splits
   * and binds it (a regex could not tell a `;` in a string from a separator), so a file it may not
   * read fails here already.
   */
  private async withStatement<T>(sql: string, use: (statement: DuckDBPreparedStatement) => T | Promise<T>): Promise<T> {
    let extracted: DuckDBExtractedStatements;
    try {
      extracted = await this.connection.extractStatements(sql);
    } catch (error) {
      throw new InputError(`not one SQL query: ${oneLine(error)}`, { cause: error });
    }
    if (extracted.count !== 1) throw new InputError(`one query per step, found ${extracted.count} statements`);
    let statement: DuckDBPreparedStatement;
    try {
      statement = await extracted.prepare(0);
    } catch (error) {
      throw new InputError(oneLine(error), { cause: error });
    }
    try {
      return await use(statement);
    } finally {
      statement.destroySync();
    }
  }

  async close(): Promise<void> {
    try {
      await this.engine.close();
    } finally {
      this.instance.closeSync();
    }
  }
}

/**
 * Opens a sandbox over the lake objects `inputKeys`: a DuckDB instance of its own, because
 * `enable_external_access` is instance-wide and cannot be turned back on. Inputs are staged first
 * (remote objects into the sandbox's temp folder), then only they and that folder are allowed and
 * the instance is locked. Creating the instance is most of the cost (10-40 ms): open one per
 * partition, not per date. Always `close()` it.
 *
 * @example
 * const sandbox = await openSqlSandbox(lake, ['silver/rides/date=2024-01-01/data.parquet']);
 * try {
 *   await sandbox.run(`SET VARIABLE rides_file = $1`, [sandbox.inputPaths[0]]);
 *   await sandbox.run(`CREATE VIEW rides AS SELECT * FROM read_parquet(getvariable('rides_file'))`);
 *   await sandbox.createTableAs('daily', config.sql); // InputError for COPY, ATTACH, read_csv('/etc/passwd'), ...
 *   await sandbox.exportQuery('SELECT * FROM daily', lake, 'gold/daily/date=2024-01-01/data.parquet', 'parquet');
 * } finally {
 *   await sandbox.close();
 * }
 */
export async function openSqlSandbox(lake: Lake, inputKeys: readonly string[]): Promise<SqlSandbox> {
  const tempDir = await mkdtemp(path.join(os.tmpdir(), 'detour-sandbox-'));
  let instance: DuckDBInstance | undefined;
  let engine: Engine | undefined;
  try {
    // Spills inside the temp folder: DuckDB allows its own temp directory whatever the lockdown.
    // One thread: config SQL runs per date, on a day's rows, where a second thread's scheduling costs
    // more than it brings (flights' daily aggregate: 1.4 s on one thread, 2.1-2.7 s on two, whether
    // one partition runs at a time or two), and partitions running at once fill the cores.
    instance = await DuckDBInstance.create(':memory:', { temp_directory: path.join(tempDir, 'spill'), threads: '1' });
    const connection = await instance.connect();
    engine = await engineOn(connection, tempDir);
    const inputPaths = await engine.stage(lake, inputKeys);
    await engine.run('SET allowed_paths = $1', [inputPaths]);
    // Where exportQuery writes (and staged copies of remote inputs lie).
    await engine.run('SET allowed_directories = $1', [[tempDir]]);
    await engine.run(LOCKDOWN.join('; '));
    return new DuckDbSqlSandbox(instance, connection, engine, inputPaths);
  } catch (error) {
    // The engine, once there, owns the temp folder.
    await (engine === undefined ? rm(tempDir, { recursive: true, force: true }) : engine.close());
    instance?.closeSync();
    throw error;
  }
}
