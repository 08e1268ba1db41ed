export { validateRows } from './row-rules.js';
export type { BoundQuery, PartitionCounts, RowRules, TypedColumn, ValidationResult } from './row-rules.js';
export { assertQualityGate, checkExpectations } from './expectations.js';
export type { DatedRows, Expectation, ExpectationResult, QualityReport, Severity } from './expectations.js';
