import type { DetectStepConfig } from '../config/index.js';
import { dbscan, explainByConditionalBands, nearestCoreDistance, standardScale, type ConditionalBand } from '../detectors/index.js';
import { InputError } from '../errors.js';
import { round } from './rounding.js';

type DbscanStep = Extract<DetectStepConfig, { detector: 'dbscan' }>;
type Feature = DbscanStep['features'][number];

/** Records as columns, sorted by id (cluster numbering and border points follow row order). */
export interface RecordColumns {
  entities: (string | null)[];
  /** Each row's entity as a dense code (null: -1), numbered in first-seen order: `entityNames[code]`. */
  entityCodes: Int32Array;
  entityNames: string[];
  /** One column per number the step reads (DBSCAN: its features), in the order its reader lists them. */
  features: Float64Array[];
}

/** One day's records a detector flags from: its columns, its labels, and its ids on demand. */
export interface RecordTable extends RecordColumns {
  /**
   * The ids of `rows`, in their order. Read when asked: handing a day's ids to JS costs more than
   * detecting on the day, and only flagged rows (or one to name in an error) need theirs.
   */
  idsOf(rows: readonly number[]): Promise<string[]>;
  /** Injected-anomaly kind per row (null = a normal row), when the step evaluates against labels. */
  labelledKinds?: (string | null)[];
}

/** A flagged record: a published anomaly whose id is the record's id. */
export interface RecordFinding {
  detector: 'dbscan' | 'conditional' | 'pattern';
  date: string;
  id: string;
  entity: string | null;
  /** The record's values the detector read, by column name (as published). */
  values: Record<string, number>;
  score: number;
  reason: string;
  /** What the record's `feature` was expected to be, and the band around it (NaN: no band). */
  expected: { feature: string; value: number; low: number; high: number };
  /** The record's injected kind (null: a normal record), when the step evaluates against labels. */
  labelledKind?: string | null;
}

export interface ClusterSummary {
  cluster: number;
  size: number;
  centroid: Record<string, number>;
}

/** How many labelled records of a kind there were, and how many were flagged. */
export interface InjectedRecall {
  total: number;
  flagged: number;
  recall: number | null;
  /** flagged / (flagged + false alarms): the precision if this kind were the only one. */
  precision?: number | null;
}

/** Precision and recall on labelled records, overall and per injected kind. */
export type InjectedEvaluation = InjectedRecall & { false_alarms: number; by_kind: Record<string, InjectedRecall> };

/** What DBSCAN tells about its day, beyond the findings: kept in the day's summary. */
export interface DbscanFacts {
  clusters: ClusterSummary[];
  outliers: number;
  parameters: { eps: number; min_samples: number; scale: string; features: string[] };
  injected_anomalies?: InjectedEvaluation;
}

/** What the conditional detector tells about its day: what it learnt from, and why rides were flagged. */
export interface ConditionalFacts {
  flagged: number;
  by_reason: { too_long: number; too_short: number; too_fast: number; far_distance: number };
  fit: {
    from: string;
    to: string;
    days: number;
    rides: number;
    by_day_of_week: boolean;
    /** The fleet's usual distance (median) and the distance beyond which a ride is flagged. */
    distance: { median: number; flagged_above: number | null };
  };
  parameters: { sigmas: number; distance_sigmas: number; min_support: number; max_speed_kmh: number; history: number };
  injected_anomalies?: InjectedEvaluation;
}

/** A vehicle's pattern, as the pattern detector's facts list it. */
export interface VehiclePatternFacts {
  vehicle: string;
  pattern: 'repeated' | 'back_to_back' | 'overlap';
  count: number;
  total: number;
  expected: number;
  score: number;
  reason: string;
}

/** What the pattern detector tells about its day: the vehicles flagged, and the fleet's rates. */
export interface PatternFacts {
  flagged: number;
  vehicles: VehiclePatternFacts[];
  fleet: { trips: number; gaps: number; back_to_back_share: number; overlap_share: number; overlaps_tested: boolean };
  parameters: { relative_tolerance: number; min_repeats: number; false_alarms: number; back_to_back_minutes: number };
  injected_anomalies?: InjectedEvaluation;
}

/** What a record detector tells about its day, beyond the findings: kept in the day's summary. */
export type RecordDetectionFacts = DbscanFacts | ConditionalFacts | PatternFacts;

/** A number as explanations show it: whole from 10 up, one decimal below. */
export function formatAmount(value: number): string {
  return Math.abs(value) >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** "ride time 94 min is 6.1σ above rides of similar distance (expected 12–31 min)" */
export function describeOutlier(band: ConditionalBand, features: readonly Feature[], records: string): string {
  const feature = features[band.feature];
  const given = features[band.givenFeature];
  const unit = feature.unit === '' ? '' : ` ${feature.unit}`;
  // No inliers at all (every record of the day is noise): there is no band to compare with.
  if (!Number.isFinite(band.expected)) return `${feature.label} ${formatAmount(band.value)}${unit}: no cluster of ${records} to compare with (too few similar ${records} this day)`;
  const direction = band.sigmas >= 0 ? 'above' : 'below';
  const sigmas = Number.isFinite(band.sigmas) ? `${Math.abs(band.sigmas).toFixed(1)}σ` : 'far';
  const low = Math.max(0, band.low);
  const similar = band.givenFeature === band.feature ? records : `${records} of similar ${given.noun}`;
  return `${feature.label} ${formatAmount(band.value)}${unit} is ${sigmas} ${direction} ${similar} (expected ${formatAmount(low)}–${formatAmount(band.high)}${unit})`;
}

/**
 * Precision and recall from counts: `totals` labelled records per kind, `flagged` of them flagged,
 * and `falseAlarms` normal records flagged. A kind's precision counts every false alarm against
 * it, as if it were the only kind in the data.
 */
export function injectedEvaluation(totals: ReadonlyMap<string, number>, flagged: ReadonlyMap<string, number>, falseAlarms: number): InjectedEvaluation {
  const tally = (total: number, found: number): InjectedRecall => ({
    total,
    flagged: found,
    recall: total > 0 ? round(found / total, 4) : null,
    precision: found + falseAlarms > 0 ? round(found / (found + falseAlarms), 4) : null,
  });
  const kinds = [...totals.keys()].sort((a, b) => a.localeCompare(b));
  const total = kinds.reduce((sum, kind) => sum + (totals.get(kind) ?? 0), 0);
  const found = kinds.reduce((sum, kind) => sum + (flagged.get(kind) ?? 0), 0);
  return { ...tally(total, found), false_alarms: falseAlarms, by_kind: Object.fromEntries(kinds.map((kind) => [kind, tally(totals.get(kind) ?? 0, flagged.get(kind) ?? 0)])) };
}

/** Precision and recall of a detector's flags (`flaggedRows`, the rows it flagged) on rows labelled as injected anomalies (kind null = a normal row). */
export function injectedRecall(injectedKinds: readonly (string | null)[], flaggedRows: readonly number[]): InjectedEvaluation {
  const isFlagged = new Uint8Array(injectedKinds.length);
  for (const row of flaggedRows) isFlagged[row] = 1;
  const totals = new Map<string, number>();
  const flagged = new Map<string, number>();
  let falseAlarms = 0;
  injectedKinds.forEach((kind, row) => {
    if (kind === null) {
      falseAlarms += isFlagged[row];
      return;
    }
    totals.set(kind, (totals.get(kind) ?? 0) + 1);
    flagged.set(kind, (flagged.get(kind) ?? 0) + isFlagged[row]);
  });
  return injectedEvaluation(totals, flagged, falseAlarms);
}

/**
 * Every value a record detector reads is a number (a NULL is read as NaN): otherwise it names the
 * first that is not, by column and record id, as the kernels' errors cannot (they know column
 * indices and rows). Any finite value is accepted, however large.
 *
 * @throws InputError
 */
export async function assertFiniteColumns(step: { detector: string; table: string; id: string }, table: Pick<RecordTable, 'idsOf' | 'features'>, columns: readonly string[], date: string): Promise<void> {
  for (const [f, column] of columns.entries()) {
    const values = table.features[f];
    // A loop, not findIndex: a callback per value costs more than the check on a million values.
    let row = 0;
    while (row < values.length && Number.isFinite(values[row])) row++;
    if (row === values.length) continue;
    const value = Number.isNaN(values[row]) ? 'missing (NULL or NaN)' : String(values[row]);
    const [id] = await table.idsOf([row]);
    throw new InputError(`detect step ${step.detector} on ${step.table} ${date}: ${column} of ${step.id} ${id} is ${value}; every ${step.detector === 'dbscan' ? 'feature' : 'value it reads'} needs a finite number`);
  }
}

/**
 * DBSCAN over one day of records: noise points are findings, scored by how far they lie beyond
 * the reach of any cluster (0 at the edge, towards 1 far away, in units of eps) and explained by
 * the feature most surprising given the others.
 *
 * @throws InputError naming the column and record id of a feature value that is not a finite number.
 */
export async function detectRecords(step: DbscanStep, table: Omit<RecordTable, 'entityCodes' | 'entityNames'>, date: string): Promise<{ findings: RecordFinding[]; facts: DbscanFacts }> {
  await assertFiniteColumns(step, table, step.features.map(({ column }) => column), date);
  const raw = table.features;
  const scaled = step.scale === 'standard' ? standardScale(raw).scaled : raw;
  const { labels, isCore, clusterCount } = dbscan(scaled, { eps: step.eps, minSamples: step.minSamples });

  const sizes = new Float64Array(clusterCount);
  const sums = raw.map(() => new Float64Array(clusterCount));
  const outlierRows: number[] = [];
  for (let row = 0; row < labels.length; row++) {
    const label = labels[row];
    if (label < 0) {
      outlierRows.push(row);
      continue;
    }
    sizes[label]++;
    raw.forEach((column, f) => (sums[f][label] += column[row]));
  }
  const columns = step.features.map((feature) => feature.column);
  const clusters = Array.from({ length: clusterCount }, (_, cluster) => ({
    cluster,
    size: sizes[cluster],
    centroid: Object.fromEntries(columns.map((column, f) => [column, round(sums[f][cluster] / sizes[cluster], 3)])),
  }));

  const coreDistances = nearestCoreDistance(scaled, isCore, outlierRows);
  const explanations = explainByConditionalBands(raw, labels, outlierRows);
  const ids = await table.idsOf(outlierRows);
  const findings = outlierRows.map((row, k): RecordFinding => {
    const band = explanations[k];
    const distance = coreDistances[k];
    return {
      detector: 'dbscan',
      date,
      id: ids[k],
      entity: table.entities[row],
      values: Object.fromEntries(columns.map((column, f) => [column, raw[f][row]])),
      score: Number.isFinite(distance) ? round(Math.max(0, 1 - step.eps / distance), 4) : 1,
      reason: describeOutlier(band, step.features, step.records),
      expected: { feature: columns[band.feature], value: round(band.expected, 3), low: round(band.low, 3), high: round(band.high, 3) },
      ...(table.labelledKinds === undefined ? {} : { labelledKind: table.labelledKinds[row] }),
    };
  });
  const facts: DbscanFacts = {
    clusters,
    outliers: findings.length,
    parameters: { eps: step.eps, min_samples: step.minSamples, scale: step.scale, features: columns },
  };
  if (table.labelledKinds) facts.injected_anomalies = injectedRecall(table.labelledKinds, outlierRows);
  return { findings, facts };
}
