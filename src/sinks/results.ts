import { z } from 'zod';

/**
 * A run's results as other teams consume them from a message bus: one message per finding (an
 * anomaly, a prediction) and one per run state change. Every message carries `schemaVersion`, raised
 * whenever a field changes meaning or goes away (adding an optional field does not raise it).
 */
export const RESULTS_SCHEMA_VERSION = 1;

/** Where a message came from: the environment, pipeline, run and logical date it belongs to. */
interface ResultOrigin {
  schemaVersion: number;
  env: string;
  pipeline: string;
  run_id: string;
  logical_date: string;
}

/** One published anomaly, as the pipeline's anomalies table holds it. */
export interface AnomalyMessage extends ResultOrigin {
  id: string;
  detector: string;
  entity: string;
  value: number | null;
  expected: number | null;
  lower: number | null;
  upper: number | null;
  score: number;
  reason: string;
  attributes: Record<string, unknown> | null;
}

/** One row's probability under a supervised model version. */
export interface PredictionMessage extends ResultOrigin {
  id: string;
  probability: number;
  model: { name: string; version: number };
  features: Record<string, number>;
}

/** A run's state change: `runs.started`, `runs.succeeded` or `runs.failed`. */
export interface RunStateMessage {
  schemaVersion: number;
  env: string;
  pipeline: string;
  run_id: string;
  event: 'runs.started' | 'runs.succeeded' | 'runs.failed';
  /** The run's first and last logical dates. */
  logical_date: string;
  end_date: string;
  /** Anomalies the run published (succeeded only). */
  anomalies?: number;
  /** Why it failed (failed only), one line. */
  error?: string;
}

const origin = {
  schemaVersion: z.number().int().min(1),
  env: z.string(),
  pipeline: z.string(),
  run_id: z.string(),
  logical_date: z.string(),
};

export const AnomalyMessageSchema: z.ZodType<AnomalyMessage> = z.object({
  ...origin,
  id: z.string(),
  detector: z.string(),
  entity: z.string(),
  value: z.number().nullable(),
  expected: z.number().nullable(),
  lower: z.number().nullable(),
  upper: z.number().nullable(),
  score: z.number(),
  reason: z.string(),
  attributes: z.record(z.string(), z.unknown()).nullable(),
});

export const PredictionMessageSchema: z.ZodType<PredictionMessage> = z.object({
  ...origin,
  id: z.string(),
  probability: z.number(),
  model: z.object({ name: z.string(), version: z.number().int() }),
  features: z.record(z.string(), z.number()),
});

export const RunStateMessageSchema: z.ZodType<RunStateMessage> = z.object({
  schemaVersion: z.number().int().min(1),
  env: z.string(),
  pipeline: z.string(),
  run_id: z.string(),
  event: z.enum(['runs.started', 'runs.succeeded', 'runs.failed']),
  logical_date: z.string(),
  end_date: z.string(),
  anomalies: z.number().int().min(0).optional(),
  error: z.string().optional(),
});

/** The findings of one run to publish: every date's anomalies and predictions. */
export interface RunFindings {
  anomalies: AnomalyMessage[];
  predictions: PredictionMessage[];
}

/** How many messages a broker took, and how many it dropped as already seen (a rerun's). */
export interface PublishedCount {
  published: number;
  duplicates: number;
}

/**
 * Where a run's results go for other teams: the bus adapter (bus-results.ts, NATS JetStream) today;
 * a Kafka producer is another adapter of this interface. Publishing the same finding or state
 * change twice (a rerun, a retried publish) delivers it once: adapters key each message by
 * {@link findingMessageId} / {@link runStateMessageId} and let the broker drop repeats.
 */
export interface ResultsSink {
  /** Where it publishes, safe to print. */
  readonly description: string;
  publishFindings(findings: RunFindings): Promise<PublishedCount>;
  publishRunState(message: RunStateMessage): Promise<PublishedCount>;
}

/** Subjects (topics) of an environment's results: `<env>.<pipeline>.anomalies`, `<env>.<pipeline>.predictions`, `<env>.runs`. */
export const resultSubjects = {
  anomalies: (env: string, pipeline: string) => `${env}.${pipeline}.anomalies`,
  predictions: (env: string, pipeline: string) => `${env}.${pipeline}.predictions`,
  runs: (env: string) => `${env}.runs`,
};

/**
 * The broker-side id of a finding: the same finding of the same logical date (whichever run
 * published it) gets the same id, in every kind and environment apart.
 */
export function findingMessageId(kind: 'anomalies' | 'predictions', message: AnomalyMessage | PredictionMessage): string {
  return `${message.env}.${message.pipeline}.${kind}:${message.logical_date}:${message.id}`;
}

/** The broker-side id of a run state change: one per run and state. */
export function runStateMessageId(message: RunStateMessage): string {
  return `${message.env}.runs:${message.run_id}:${message.event}`;
}
