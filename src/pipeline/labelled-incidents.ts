/**
 * How a series detector's flags compare with labelled rows (sample data): per incident kind, how
 * many incidents had at least one flagged row, and how many normal rows were flagged (false alarms).
 */
import { z } from 'zod';
import type { SeriesTable } from './entity-rows.js';

/** Incidents of one kind and their rows. */
export interface IncidentCounts {
  incidents: number;
  /** Incidents with at least one flagged row. */
  found: number;
  rows: number;
  flagged_rows: number;
}

/** One date's comparison: incidents by kind (an incident counts on the date of its first row) and normal rows. */
export interface LabelledIncidents {
  by_kind: Record<string, IncidentCounts>;
  normal_rows: number;
  flagged_normal_rows: number;
}

const counts = { incidents: z.number(), found: z.number(), rows: z.number(), flagged_rows: z.number() };
export const LabelledIncidentsSchema: z.ZodType<LabelledIncidents> = z.object({
  by_kind: z.record(z.string(), z.object(counts)),
  normal_rows: z.number(),
  flagged_normal_rows: z.number(),
});

/**
 * Per date, the labelled incidents of `table` (a run of consecutive rows of one entity labelled
 * with the same kind) and whether `flagged` (1 per flagged row, indexed like the table) found them.
 * The table's rows are sorted by entity, then time.
 */
export function labelledIncidentsByDate(table: SeriesTable, flagged: Uint8Array): Map<string, LabelledIncidents> {
  const byDate = new Map<string, LabelledIncidents>();
  const dateOf = (date: string) => {
    let entry = byDate.get(date);
    if (entry === undefined) byDate.set(date, (entry = { by_kind: {}, normal_rows: 0, flagged_normal_rows: 0 }));
    return entry;
  };
  const kinds = table.labelledKind ?? [];
  for (let row = 0; row < kinds.length; ) {
    const kind = kinds[row];
    if (kind === null) {
      const entry = dateOf(table.day[row]);
      entry.normal_rows++;
      entry.flagged_normal_rows += flagged[row];
      row++;
      continue;
    }
    const incident = (dateOf(table.day[row]).by_kind[kind] ??= { incidents: 0, found: 0, rows: 0, flagged_rows: 0 });
    let flaggedRows = 0;
    let end = row;
    for (; end < kinds.length && kinds[end] === kind && table.entity[end] === table.entity[row]; end++) flaggedRows += flagged[end];
    incident.incidents++;
    incident.found += flaggedRows > 0 ? 1 : 0;
    incident.rows += end - row;
    incident.flagged_rows += flaggedRows;
    row = end;
  }
  return byDate;
}

/** The sum of several dates' (or steps') comparisons, for a figure over a whole period. */
export function sumLabelledIncidents(parts: readonly LabelledIncidents[]): LabelledIncidents {
  const total: LabelledIncidents = { by_kind: {}, normal_rows: 0, flagged_normal_rows: 0 };
  for (const part of parts) {
    for (const [kind, counts] of Object.entries(part.by_kind)) {
      const into = (total.by_kind[kind] ??= { incidents: 0, found: 0, rows: 0, flagged_rows: 0 });
      into.incidents += counts.incidents;
      into.found += counts.found;
      into.rows += counts.rows;
      into.flagged_rows += counts.flagged_rows;
    }
    total.normal_rows += part.normal_rows;
    total.flagged_normal_rows += part.flagged_normal_rows;
  }
  return total;
}
