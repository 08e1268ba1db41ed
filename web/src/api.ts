/** The HTTP API as the dashboard calls it: the same routes scripts use, with the signed-in token. */

export type RunStatus = 'running' | 'succeeded' | 'failed';
export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type Scope = 'read' | 'detect' | 'admin';

export interface RunSummary {
  id: string;
  pipeline: string;
  kind: 'detection' | 'training';
  from: string;
  to: string;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  seconds: number | null;
  rowsRead: number | null;
  rowsQuarantined: number | null;
  anomalies: number | null;
  error: string | null;
  rerunOf: string | null;
}

export interface StepRow {
  step: string;
  partition: string;
  status: StepStatus;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
  seconds: number | null;
  worker: string | null;
  error: string | null;
}

export interface RunDetail {
  run: RunSummary & { params: Record<string, unknown> };
  steps: StepRow[];
  inputs: Record<string, { key: string; size: number; sha256: string }[]>;
}

export interface Session {
  authenticated: boolean;
  name: string | null;
  scopes: Scope[];
}

export interface PipelineInfo {
  name: string;
  dataset: string;
  detectors: string[];
  records: boolean;
  series: boolean;
  monitored: boolean;
}

export interface Axis {
  column: string;
  label: string;
  unit: string | null;
}

export interface FlaggedRecord {
  index: number;
  id: string;
  detector: string;
  score: number;
  reason: string;
}

export interface DayRecords {
  pipeline: string;
  date: string;
  table: string;
  x: Axis;
  y: Axis;
  ids: string[];
  xValues: (number | null)[];
  yValues: (number | null)[];
  flagged: FlaggedRecord[];
}

export interface SeriesPoint {
  time: string;
  value: number | null;
  expected: number | null;
  lower: number | null;
  upper: number | null;
}

export interface EntitySeries {
  pipeline: string;
  entity: string;
  value: string;
  band: string;
  points: SeriesPoint[];
  anomalies: { date: string; detector: string; value: number | null; expected: number | null; score: number; reason: string }[];
}

export interface StoredAnomaly {
  date: string;
  id: string;
  detector: string;
  entity: string;
  value: number | null;
  expected: number | null;
  score: number;
  reason: string;
}

export interface QualityRow {
  date: string;
  runId: string;
  expectation: string;
  column: string | null;
  severity: 'warn' | 'fail';
  passed: boolean;
  observed: number | null;
  failingRows: number | null;
}

export interface Quarantine {
  rows: number;
  reasons: { reason: string; rows: number }[];
  sample: Record<string, string | number | null>[];
}

export interface ModelVersion {
  name: string;
  version: number;
  detector: string;
  entity: string | null;
  stage: 'candidate' | 'production' | 'archived';
  metrics: Record<string, number> | null;
  window: { from: string; to: string };
  trainingRunId: string;
  createdAt: string;
  promotedAt: string | null;
}

export interface Calibration {
  name: string;
  version: number;
  label: string;
  calibration: { from: number; to: number; rows: number; mean_probability: number; observed_rate: number }[];
}

export interface ModelRef {
  name: string;
  version: number;
}

/** A watched pipeline over a window, as `/v1/monitoring` answers it. */
export interface Monitoring {
  pipeline: string;
  from: string;
  to: string;
  thresholds: { psi: number; ks: number | null; features: string[] | null; minAuc: number | null; maxLogLoss: number | null; minRows: number };
  performance: { date: string; model: ModelRef; predictions: number; matched: number; positives: number; auc: number | null; logLoss: number | null; brier: number | null }[];
  drift: { date: string; model: ModelRef; feature: string; windowDays: number; rows: number; constant: boolean; psi: number | null; ks: number | null }[];
  alarms: { alarm: string; state: 'firing' | 'resolved'; message: string; date: string | null; changedAt: string }[];
}

/** An answer other than 2xx, with the API's one-line message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined>;

/** Calls the API with a bearer token; every failure becomes an ApiFailure carrying the API's `msg`. */
export class ApiClient {
  constructor(private readonly token: string) {}

  private async call<T>(method: string, path: string, query: Query = {}, body?: unknown): Promise<T> {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') search.set(name, String(value));
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const url = `${new URL(`.${path}`, document.baseURI).pathname}${search.size > 0 ? `?${search}` : ''}`;
    const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const answer = (await response.json().catch(() => ({ msg: response.statusText }))) as T & { msg?: string };
    if (!response.ok) throw new ApiFailure(response.status, answer.msg ?? `HTTP ${response.status}`);
    return answer;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.call<T>('GET', path, query);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, {}, body);
  }
}
