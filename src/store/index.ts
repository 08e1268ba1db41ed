import { join } from 'node:path';
import type { OutageOptions } from '../outage.js';
import { openPgliteClient } from './pglite-client.js';
import { openPostgresClient } from './postgres-client.js';
import type { SqlClient } from './sql-client.js';
import { openSqlStore } from './sql-store.js';
import type { Store } from './store.js';

export { LeaseLostError } from './store.js';
export { dropDefaultSchemaTables, dropStoreSchema, listEmbeddedStores, listStoreSchemas, removeEmbeddedStore, STORE_TABLES } from './environments.js';
export type {
  AlarmRecord,
  AlarmState,
  CalibrationRow,
  DriftRow,
  Feedback,
  FeedbackVerdict,
  ForecastRow,
  MonitorDay,
  MonitorReport,
  PerformanceRow,
  StoredFeedback,
  AnomalyCursor,
  AnomalyQuery,
  AnomalyRow,
  DatasetQualityRow,
  DatedAnomalies,
  DatedQualityResults,
  Lease,
  ListModelsOptions,
  ListRunsOptions,
  ModelArtifact,
  ModelRef,
  ModelRegistration,
  ModelStage,
  ModelStageChange,
  ModelVersion,
  NewModelVersion,
  NewRun,
  PlannedStep,
  PredictionRow,
  QualityResultRow,
  RunOutcome,
  RunCursor,
  RunRecord,
  RunStatus,
  StepRecord,
  StepStatus,
  StepUpdate,
  StoredAnomaly,
  StoredPrediction,
  Store,
} from './store.js';

export interface OpenStoreOptions extends OutageOptions {
  /** A `postgres://` or `postgresql://` URL (typically DATABASE_URL); empty or absent means PGlite. */
  databaseUrl?: string;
  /** detour's state folder; the embedded database lives in `<stateDir>/db`. */
  stateDir: string;
  /** On PostgreSQL, the schema holding every table (created when missing); unset: the server's default. PGlite keeps one database per state folder instead. */
  schema?: string;
}

/**
 * Opens the run store and results database, migrating its schema: on the PostgreSQL server at
 * `databaseUrl` when one is given, else on embedded PGlite in `<stateDir>/db`. Throws InputError
 * for a bad URL, a refused login or an unusable folder, and TransientError while another process
 * holds the PGlite folder. A PostgreSQL server that is unreachable is waited for, at opening and
 * at every statement, for at most `outageWaitMs` (`onOutage` hears of it once per outage); then
 * the call fails with an UnavailableError. `store.description` says which database was opened.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const databaseUrl = options.databaseUrl?.trim();
  const client: SqlClient = databaseUrl
    ? await openPostgresClient(databaseUrl, { outageWaitMs: options.outageWaitMs, onOutage: options.onOutage, schema: options.schema })
    : await openPgliteClient(join(options.stateDir, 'db'));
  try {
    return await openSqlStore(client);
  } catch (error) {
    await client.close();
    throw error;
  }
}
