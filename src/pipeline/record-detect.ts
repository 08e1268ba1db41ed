import type { DetectStepConfig } from '../config/index.js';
import { dbscan, explainByConditionalBands, nearestCoreDistance, standardScale, type ConditionalBand } from '../detectors/index.js';
import { InputError } from '../errors.js';
import { round } from './rounding.js';

type DbscanStep = Extract<DetectStepConfig, { detector: 'dbscan' }>;
type Feature = DbscanStep['features'][number];

/** One day's records as columns, sorted by id (cluster numbering and border points follow row order). */
export interface RecordTable {
  ids: string[];
  /** One column per feature of the step, in the step's order. */
  features: Float64Array[];
  /** The entity of each of `rows` (null where a record has none): only outliers need one, so only theirs are read. */
  entitiesOf(rows: readonly number[]): Promise<(string | null)[]>;
  /** The rows labelled as injected anomalies, with their kind (the others are normal), when the step evaluates against labels. */
  labelledKinds?: ReadonlyMap<number, string>;
}

/** An outlier record: a published anomaly whose id is the record's id. */
export interface RecordFinding {
  detector: 'dbscan';
  date: string;
  id: string;
  entity: string | null;
  /** The feature's values of the record, by column name. */
  values: Record<string, number>;
  score: number;
  reason: string;
  expected: { feature: string; value: number; low: number; high: number };
}

export interface ClusterSummary {
  cluster: number;
  size: number;
  centroid: Record<string, number>;
}

export interface InjectedRecall {
  total: number;
  flagged: number;
  recall: number | null;
}

/** What a record detector tells about its day, beyond the findings: kept in the day's summary. */
export interface RecordDetectionFacts {
  clusters: ClusterSummary[];
  outliers: number;
  parameters: { eps: number; min_samples: number; scale: string; features: string[] };
  injected_anomalies?: InjectedRecall & { by_kind: Record<string, InjectedRecall> };
}

function formatAmount(value: number): string {
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

/** Recall of the detector on rows labelled as injected anomalies (by row, with their kind). */
export function injectedRecall(injectedKinds: ReadonlyMap<number, string>, flaggedRows: Uint8Array): InjectedRecall & { by_kind: Record<string, InjectedRecall> } {
  const byKind: Record<string, InjectedRecall> = {};
  const overall: InjectedRecall = { total: 0, flagged: 0, recall: null };
  injectedKinds.forEach((kind, row) => {
    const counts = (byKind[kind] ??= { total: 0, flagged: 0, recall: null });
    for (const tally of [counts, overall]) {
      tally.total++;
      tally.flagged += flaggedRows[row];
    }
  });
  for (const tally of [overall, ...Object.values(byKind)]) tally.recall = tally.total > 0 ? round(tally.flagged / tally.total, 4) : null;
  return { ...overall, by_kind: Object.fromEntries(Object.entries(byKind).sort(([a], [b]) => a.localeCompare(b))) };
}

/**
 * Every feature value is a number (a NULL is read as NaN): otherwise it names the first that is
 * not, by column and record id, as the kernels' errors cannot (they know column indices and rows).
 * Any finite value scales, however large.
 *
 * @throws InputError
 */
function assertNumericFeatures(step: DbscanStep, table: RecordTable, date: string): void {
  step.features.forEach(({ column }, f) => {
    const values = table.features[f];
    const row = values.findIndex((value) => !Number.isFinite(value));
    if (row < 0) return;
    const value = Number.isNaN(values[row]) ? 'missing (NULL or NaN)' : String(values[row]);
    throw new InputError(`detect step dbscan on ${step.table} ${date}: ${column} of ${step.id} ${table.ids[row]} is ${value}; every feature needs a finite number`);
  });
}

/**
 * DBSCAN over one day of records: noise points are findings, scored by how far they lie beyond
 * the reach of any cluster (0 at the edge, towards 1 far away, in units of eps) and explained by
 * the feature most surprising given the others.
 *
 * @throws InputError naming the column and record id of a feature value that is not a finite number.
 */
export async function detectRecords(step: DbscanStep, table: RecordTable, date: string): Promise<{ findings: RecordFinding[]; facts: RecordDetectionFacts }> {
  assertNumericFeatures(step, table, date);
  const raw = table.features;
  const scaled = step.scale === 'standard' ? standardScale(raw).scaled : raw;
  const { labels, isCore, clusterCount } = dbscan(scaled, { eps: step.eps, minSamples: step.minSamples });

  const sizes = new Float64Array(clusterCount);
  const sums = raw.map(() => new Float64Array(clusterCount));
  const outlierRows: number[] = [];
  const flaggedRows = new Uint8Array(labels.length);
  for (let row = 0; row < labels.length; row++) {
    const label = labels[row];
    if (label < 0) {
      outlierRows.push(row);
      flaggedRows[row] = 1;
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
  const entities = await table.entitiesOf(outlierRows);
  const findings = outlierRows.map((row, k): RecordFinding => {
    const band = explanations[k];
    const distance = coreDistances[k];
    return {
      detector: 'dbscan',
      date,
      id: table.ids[row],
      entity: entities[k],
      values: Object.fromEntries(columns.map((column, f) => [column, raw[f][row]])),
      score: Number.isFinite(distance) ? round(Math.max(0, 1 - step.eps / distance), 4) : 1,
      reason: describeOutlier(band, step.features, step.records),
      expected: { feature: columns[band.feature], value: round(band.expected, 3), low: round(band.low, 3), high: round(band.high, 3) },
    };
  });
  const facts: RecordDetectionFacts = {
    clusters,
    outliers: findings.length,
    parameters: { eps: step.eps, min_samples: step.minSamples, scale: step.scale, features: columns },
  };
  if (table.labelledKinds) facts.injected_anomalies = injectedRecall(table.labelledKinds, flaggedRows);
  return { findings, facts };
}
