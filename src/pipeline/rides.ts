import type { RidesPipelineConfig } from '../config/index.js';
import { dbscan, explainByConditionalBands, nearestCoreDistance, standardScale, type ConditionalBand } from '../detectors/index.js';
import { openEngine, readInputTable, sqlIdentifier, type Engine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { partitionPrefix, type Lake } from '../lake/index.js';
import { assertQualityGate, checkExpectations, validateRows, type ValidationResult } from '../quality/index.js';
import type { RideAnomalyRow, Store } from '../store/index.js';
import { DETOUR_VERSION } from '../version.js';
import { hashInputs, listInput, writeQuarantine } from './inputs.js';

export const RIDES_PIPELINE = 'rides';

/** Where a rides run reads and writes, relative to the lake root. */
export function ridesLayout(config: RidesPipelineConfig, logicalDate: string) {
  return {
    input: partitionPrefix('bronze', config.dataset, logicalDate),
    silver: `${partitionPrefix('silver', config.dataset, logicalDate)}rides.parquet`,
    quarantine: `${partitionPrefix('silver', `${config.dataset}_quarantine`, logicalDate)}quarantine.parquet`,
    quality: `${partitionPrefix('silver', `${config.dataset}_quality`, logicalDate)}report.json`,
    anomalies: `${partitionPrefix('gold', 'ride_anomalies', logicalDate)}anomalies.json`,
    summary: `${partitionPrefix('gold', 'ride_clusters', logicalDate)}summary.json`,
  };
}

export interface PipelineContext {
  lake: Lake;
  store: Store;
  /** Called as each step starts, for progress displays. */
  onStep?: (logicalDate: string, step: string) => void;
}

export interface ClusterSummary {
  cluster: number;
  size: number;
  centroid: { ride_dist_km: number; ride_time_min: number };
}

/** Contents of `gold/ride_clusters/date=D/summary.json`. */
export interface RidesRunSummary {
  pipeline: string;
  run_id: string;
  logical_date: string;
  rows_read: number;
  rows_valid: number;
  rows_quarantined: number;
  quarantine_reasons: Record<string, number>;
  clusters: ClusterSummary[];
  outliers: number;
  /** Present when the input carries `is_injected_anomaly` (sample data): recall of the injected rides, overall and per `injected_kind`. */
  injected_anomalies?: InjectedRecall & { by_kind: Record<string, InjectedRecall> };
  parameters: { eps: number; min_samples: number; scale: string; features: string[] };
  input: { files: { key: string; size: number }[]; sha256: string };
  /** Outcome of the data-quality expectations (all results are in the report file and the database). */
  quality: { passed: boolean; failed_warnings: string[]; report: string };
  outputs: { silver: string; quarantine: string | null; anomalies: string; summary: string };
  detour_version: string;
  seconds: number;
}

/** One element of `anomalies.json`. */
export interface RideAnomaly {
  ride_id: string;
  taxi_id: string;
  ride_dist_km: number;
  ride_time_min: number;
  label: -1;
  score: number;
  reason: string;
  expected: { feature: string; value: number; low: number; high: number };
}

export interface InjectedRecall {
  total: number;
  flagged: number;
  recall: number | null;
}

/** Canonical ride column names, used by expectations and outputs whatever the input calls them. */
const CANONICAL_COLUMNS: Record<keyof RidesPipelineConfig['columns'], string> = {
  rideId: 'ride_id',
  taxiId: 'taxi_id',
  pickupTs: 'pickup_ts',
  dropoffTs: 'dropoff_ts',
  rideDistKm: 'ride_dist_km',
  rideTimeMin: 'ride_time_min',
};

/** A view of the valid rows with canonical column names; other input columns pass through. */
async function createCanonicalView(engine: Engine, validTable: string, columns: RidesPipelineConfig['columns'], view: string): Promise<Set<string>> {
  const inputColumns = await engine.columnNames(validTable);
  const mapped = Object.entries(columns) as [keyof typeof CANONICAL_COLUMNS, string][];
  const replaced = new Set([...mapped.map(([, input]) => input), ...Object.values(CANONICAL_COLUMNS)]);
  const passThrough = inputColumns.filter((name) => !replaced.has(name));
  const select = [...mapped.map(([field, input]) => `${sqlIdentifier(input)} AS ${CANONICAL_COLUMNS[field]}`), ...passThrough.map(sqlIdentifier)];
  await engine.run(`CREATE OR REPLACE VIEW ${sqlIdentifier(view)} AS SELECT ${select.join(', ')} FROM ${sqlIdentifier(validTable)}`);
  return new Set([...Object.values(CANONICAL_COLUMNS), ...passThrough]);
}

const INJECTED_FLAG_COLUMN = 'is_injected_anomaly';
const INJECTED_KIND_COLUMN = 'injected_kind';

/** Recall of the detector on rows labelled as injected anomalies (kind null = a normal row). */
export function injectedRecall(injectedKinds: readonly (string | null)[], flaggedRows: Uint8Array): InjectedRecall & { by_kind: Record<string, InjectedRecall> } {
  const byKind: Record<string, InjectedRecall> = {};
  const overall: InjectedRecall = { total: 0, flagged: 0, recall: null };
  injectedKinds.forEach((kind, row) => {
    if (kind === null) return;
    const counts = (byKind[kind] ??= { total: 0, flagged: 0, recall: null });
    for (const tally of [counts, overall]) {
      tally.total++;
      tally.flagged += flaggedRows[row];
    }
  });
  for (const tally of [overall, ...Object.values(byKind)]) tally.recall = tally.total > 0 ? round(tally.flagged / tally.total, 4) : null;
  return { ...overall, by_kind: Object.fromEntries(Object.entries(byKind).sort(([a], [b]) => a.localeCompare(b))) };
}
const FEATURES = [
  { name: 'ride_dist_km', words: 'ride distance', unit: 'km', similar: 'duration' },
  { name: 'ride_time_min', words: 'ride time', unit: 'min', similar: 'distance' },
] as const;



function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function formatAmount(value: number): string {
  return Math.abs(value) >= 10 ? value.toFixed(0) : value.toFixed(1);
}

/** "ride time 94 min is 6.1σ above rides of similar distance (expected 12–31 min)" */
export function describeRideOutlier(band: ConditionalBand): string {
  const feature = FEATURES[band.feature];
  const direction = band.sigmas >= 0 ? 'above' : 'below';
  const sigmas = Number.isFinite(band.sigmas) ? `${Math.abs(band.sigmas).toFixed(1)}σ` : 'far';
  const low = Math.max(0, band.low);
  return `${feature.words} ${formatAmount(band.value)} ${feature.unit} is ${sigmas} ${direction} rides of similar ${feature.similar} (expected ${formatAmount(low)}–${formatAmount(band.high)} ${feature.unit})`;
}

interface Detection {
  clusters: ClusterSummary[];
  anomalies: RideAnomaly[];
  flaggedRows: Uint8Array;
}

function detect(rideDistKm: Float64Array, rideTimeMin: Float64Array, rideIds: string[], taxiIds: string[], config: RidesPipelineConfig): Detection {
  const raw = [rideDistKm, rideTimeMin];
  const features = config.dbscan.scale === 'standard' ? standardScale(raw).scaled : raw;
  const { labels, isCore, clusterCount } = dbscan(features, { eps: config.dbscan.eps, minSamples: config.dbscan.minSamples });

  const sizes = new Float64Array(clusterCount);
  const distSums = new Float64Array(clusterCount);
  const timeSums = new Float64Array(clusterCount);
  const outlierRows: number[] = [];
  const flaggedRows = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label < 0) {
      outlierRows.push(i);
      flaggedRows[i] = 1;
      continue;
    }
    sizes[label]++;
    distSums[label] += rideDistKm[i];
    timeSums[label] += rideTimeMin[i];
  }
  const clusters = Array.from({ length: clusterCount }, (_, cluster) => ({
    cluster,
    size: sizes[cluster],
    centroid: { ride_dist_km: round(distSums[cluster] / sizes[cluster], 3), ride_time_min: round(timeSums[cluster] / sizes[cluster], 3) },
  }));

  // Score: how far beyond the reach of any cluster, in units of eps (0 at the edge, towards 1 far away).
  const coreDistances = nearestCoreDistance(features, isCore, outlierRows);
  const explanations = explainByConditionalBands(raw, labels, outlierRows);
  const anomalies = outlierRows.map((row, k): RideAnomaly => {
    const band = explanations[k];
    const distance = coreDistances[k];
    return {
      ride_id: rideIds[row],
      taxi_id: taxiIds[row],
      ride_dist_km: rideDistKm[row],
      ride_time_min: rideTimeMin[row],
      label: -1,
      score: Number.isFinite(distance) ? round(Math.max(0, 1 - config.dbscan.eps / distance), 4) : 1,
      reason: describeRideOutlier(band),
      expected: { feature: FEATURES[band.feature].name, value: round(band.expected, 3), low: round(band.low, 3), high: round(band.high, 3) },
    };
  });
  return { clusters, anomalies, flaggedRows };
}


/**
 * Runs the rides pipeline for one logical date: bronze → validate (quarantine) → silver →
 * DBSCAN on ride distance and ride time → gold JSON + `ride_anomalies` UPSERT. The run is
 * recorded in the store whatever happens; on failure no gold output of that date is touched.
 */
export async function runRidesPipeline(context: PipelineContext, config: RidesPipelineConfig, logicalDate: string): Promise<RidesRunSummary> {
  const { lake, store } = context;
  const startedAt = performance.now();
  const layout = ridesLayout(config, logicalDate);
  const params = { dataset: config.dataset, format: config.format, columns: config.columns, dbscan: config.dbscan, expectations: config.expectations };
  const run = await store.startRun({ pipeline: RIDES_PIPELINE, logicalDate, params });
  const step = (name: string) => context.onStep?.(logicalDate, name);
  const engine = await openEngine();
  let validation: ValidationResult | undefined;
  try {
    step('read');
    const objects = await listInput(lake, layout.input, 'rides');
    const inputSha256 = await hashInputs(engine, lake, objects);
    const columns = config.columns;
    const input = await readInputTable(engine, lake, objects, {
      table: 'rides',
      format: config.format,
      requiredColumns: [columns.rideId, columns.taxiId, columns.pickupTs, columns.dropoffTs, columns.rideDistKm, columns.rideTimeMin],
    });

    step('validate');
    validation = await validateRows(engine, input, {
      idColumn: columns.rideId,
      requiredColumns: [columns.taxiId],
      numericColumns: [
        { name: columns.rideDistKm, min: 0 },
        { name: columns.rideTimeMin, min: 0 },
      ],
      timestampColumns: [columns.pickupTs, columns.dropoffTs],
      orderedTimestamps: [[columns.pickupTs, columns.dropoffTs]],
    });
    const quarantineKey = await writeQuarantine(engine, lake, validation, layout.input, layout.quarantine);
    if (validation.rowsValid === 0) {
      throw new InputError(`all ${validation.rowsRead} rows of ${layout.input} were quarantined (${Object.keys(validation.reasonCounts).slice(0, 3).join(', ')}); see ${layout.quarantine}`);
    }

    step('quality');
    const rides = 'rides_canonical';
    const rideColumns = await createCanonicalView(engine, validation.validTable, columns, rides);
    const report = await checkExpectations(engine, rides, config.expectations, { dataset: config.dataset, logicalDate });
    await lake.put(layout.quality, `${JSON.stringify(report, null, 2)}\n`);
    await store.recordQualityResults(run.id, config.dataset, logicalDate, report.results);
    assertQualityGate(report, layout.quality);

    step('detect');
    const hasInjected = rideColumns.has(INJECTED_FLAG_COLUMN);
    const injectedKindSql = rideColumns.has(INJECTED_KIND_COLUMN) ? `coalesce(nullif(${INJECTED_KIND_COLUMN}, ''), 'injected')` : `'injected'`;
    const data = await engine.columns(`SELECT CAST(ride_id AS VARCHAR) AS ride_id, CAST(taxi_id AS VARCHAR) AS taxi_id, ride_dist_km, ride_time_min
        ${hasInjected ? `, CASE WHEN TRY_CAST(${INJECTED_FLAG_COLUMN} AS INTEGER) = 1 THEN ${injectedKindSql} END AS injected_kind` : ''}
      FROM ${rides} ORDER BY ride_id`);
    const rideIds = data.ride_id as string[];
    const rideDistKm = Float64Array.from(data.ride_dist_km as number[]);
    const rideTimeMin = Float64Array.from(data.ride_time_min as number[]);
    const detection = detect(rideDistKm, rideTimeMin, rideIds, data.taxi_id as string[], config);

    step('publish');
    await engine.exportQuery(
      `SELECT * EXCLUDE (_source_file, _source_row, _partition) FROM ${rides} ORDER BY ride_id`,
      lake,
      layout.silver,
      'parquet',
    );
    const summary: RidesRunSummary = {
      pipeline: RIDES_PIPELINE,
      run_id: run.id,
      logical_date: logicalDate,
      rows_read: validation.rowsRead,
      rows_valid: validation.rowsValid,
      rows_quarantined: validation.rowsQuarantined,
      quarantine_reasons: validation.reasonCounts,
      clusters: detection.clusters,
      outliers: detection.anomalies.length,
      quality: {
        passed: report.passed,
        failed_warnings: report.results.filter((result) => !result.passed).map((result) => `${result.expectation} (observed ${result.observed})`),
        report: layout.quality,
      },
      parameters: { eps: config.dbscan.eps, min_samples: config.dbscan.minSamples, scale: config.dbscan.scale, features: FEATURES.map((feature) => feature.name) },
      input: { files: objects.map(({ key, size }) => ({ key, size })), sha256: inputSha256 },
      outputs: { silver: layout.silver, quarantine: quarantineKey, anomalies: layout.anomalies, summary: layout.summary },
      detour_version: DETOUR_VERSION,
      seconds: 0,
    };
    if (hasInjected) summary.injected_anomalies = injectedRecall(data.injected_kind as (string | null)[], detection.flaggedRows);
    await store.replaceRideAnomalies(
      logicalDate,
      run.id,
      detection.anomalies.map(
        (anomaly): RideAnomalyRow => ({
          rideId: anomaly.ride_id,
          taxiId: anomaly.taxi_id,
          rideDistKm: anomaly.ride_dist_km,
          rideTimeMin: anomaly.ride_time_min,
          label: anomaly.label,
          score: anomaly.score,
          reason: anomaly.reason,
        }),
      ),
    );
    // anomalies.json is deterministic (sorted by ride_id, no timestamps); summary.json carries the run facts.
    await lake.put(layout.anomalies, `${JSON.stringify(detection.anomalies, null, 1)}\n`);
    summary.seconds = round((performance.now() - startedAt) / 1000, 3);
    await lake.put(layout.summary, `${JSON.stringify(summary, null, 2)}\n`);
    await store.finishRun(run.id, {
      status: 'succeeded',
      rowsRead: summary.rows_read,
      rowsQuarantined: summary.rows_quarantined,
      outliers: summary.outliers,
    });
    return summary;
  } catch (error) {
    await store.finishRun(run.id, {
      status: 'failed',
      rowsRead: validation?.rowsRead,
      rowsQuarantined: validation?.rowsQuarantined,
      error: oneLine(error),
    });
    throw error;
  } finally {
    await engine.close();
  }
}
