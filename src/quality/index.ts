export { validateRows } from './row-rules.js';
export type { RowRules, ValidationResult } from './row-rules.js';
