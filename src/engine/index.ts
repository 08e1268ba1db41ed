import type { Lake } from '../lake/index.js';
import type { Engine } from './duckdb-engine.js';
import type { SqlSandbox } from './sandbox.js';

export { sqlIdentifier } from './sql-identifier.js';
export type { Engine, Row, SqlParams, TableColumn, TableFormat } from './duckdb-engine.js';
export { readInputTable } from './read-input.js';
export type { BindValue, InputColumn, InputTable, ReadInputOptions, SourceFile } from './read-input.js';
export type { SqlSandbox } from './sandbox.js';

// DuckDB (tens of MB once loaded) is loaded with the first engine a process opens: an API process
// that only serves requests never loads it.

/**
 * Opens an engine: a connection to the process's DuckDB with a schema of its own and its own temp
 * folder (see `duckdb-engine.ts`). Always `close()` it (try/finally).
 */
export async function openEngine(): Promise<Engine> {
  return (await import('./duckdb-engine.js')).openEngine();
}

/** A locked-down DuckDB of its own for a config's SQL over `inputKeys` of the lake (see `sandbox.ts`). */
export async function openSqlSandbox(lake: Lake, inputKeys: readonly string[]): Promise<SqlSandbox> {
  return (await import('./sandbox.js')).openSqlSandbox(lake, inputKeys);
}
