export { openEngine, sqlIdentifier } from './duckdb-engine.js';
export type { Engine, Row, SqlParams, TableColumn, TableFormat } from './duckdb-engine.js';
export { readInputTable } from './read-input.js';
export type { InputColumn, InputTable, ReadInputOptions, SourceFile } from './read-input.js';
export { openSqlSandbox } from './sandbox.js';
export type { SqlSandbox } from './sandbox.js';
