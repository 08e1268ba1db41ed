/** Identifiers quoted for DuckDB SQL; a module of its own so that using it does not load DuckDB. */

/** Quotes an identifier (column or table name). */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
