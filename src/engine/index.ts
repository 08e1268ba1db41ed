export { openEngine, sqlString, sqlIdentifier } from './duckdb-engine.js';
export type { Engine, EngineOptions, Row, SqlParams, TableColumn, TableFormat } from './duckdb-engine.js';
export { readInputTable } from './read-input.js';
export type { InputColumn, InputTable, ReadInputOptions, SourceFile } from './read-input.js';
