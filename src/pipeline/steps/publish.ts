import { z } from 'zod';
import { isRecordStep, type RecordStepConfig } from '../../config/index.js';
import { compactDate } from '../../dates.js';
import type { Lake } from '../../lake/index.js';
import type { AnomalyRow } from '../../store/index.js';
import { DETOUR_VERSION } from '../../version.js';
import { WholeRunSchema, type StepHandler, type WholeRun } from '../contract.js';
import type { AggregatedDate, CheckedDate, CleanedDate, StepContext } from '../context.js';
import { pipelineLayout, pipelineTables } from '../layout.js';
import { injectedEvaluation, type InjectedEvaluation, type RecordDetectionFacts, type RecordFinding } from '../record-detect.js';
import { LabelledIncidentsSchema, sumLabelledIncidents, type LabelledIncidents } from '../labelled-incidents.js';
import type { Finding } from '../series-detect.js';
import { AggregatedDateSchema } from './aggregate.js';
import { InputFingerprintSchema } from './clean.js';
import { InjectedEvaluationSchema, readFindings, RecordDetectionFactsSchema, type AnyFinding, type DetectOutput } from './detect.js';
import { PredictedDateSchema, type PredictedDate } from './predict.js';
import { CheckedDateSchema } from './quality.js';
import { upstreamOf, type UpstreamOutputs } from './upstream.js';

/** One element of `anomalies.json` for an entity-day finding (ARIMA, Isolation Forest). */
export interface PublishedAnomaly extends AnomalyRow {
  date: string;
}

/** Contents of `gold/<summary>/date=D/summary.json`. */
export interface RunSummary {
  pipeline: string;
  run_id: string;
  logical_date: string;
  dataset: string;
  rows_read: number;
  rows_valid: number;
  rows_quarantined: number;
  quarantine_reasons: Record<string, number>;
  /** Rows kept but flagged by the clean step, per warning; absent when none. */
  row_warnings?: Record<string, number>;
  quality: CheckedDate;
  aggregates: AggregatedDate;
  anomalies: number;
  /** What record detectors found out about the day (clusters, recall on labelled rows), by step. */
  detections: Record<string, RecordDetectionFacts>;
  /** Precision and recall of the published anomalies (every record detector together) on labelled rows. */
  evaluation?: InjectedEvaluation;
  /** How a series detector's flags compare with labelled rows (sample data), by step; absent without labels. */
  labelled_incidents?: Record<string, LabelledIncidents>;
  /** Entities a series detector could not model (too little history, constant series), with why. */
  skipped: { entity: string; reason: string }[];
  /** Days the series detectors learnt from, and the dates they flagged (all dates of the run). */
  detection_window?: { from: string; to: string; flagged_from: string; flagged_to: string };
  /** What the predict step did for the date, when the pipeline has one. */
  predictions?: PredictedDate;
  input: CleanedDate['input'];
  outputs: { silver: string; quarantine: string | null; anomalies: string; summary: string };
  detour_version: string;
}

export const RunSummarySchema: z.ZodType<RunSummary> = z.object({
  pipeline: z.string(),
  run_id: z.string(),
  logical_date: z.string(),
  dataset: z.string(),
  rows_read: z.number(),
  rows_valid: z.number(),
  rows_quarantined: z.number(),
  quarantine_reasons: z.record(z.string(), z.number()),
  row_warnings: z.record(z.string(), z.number()).optional(),
  quality: CheckedDateSchema,
  aggregates: AggregatedDateSchema,
  anomalies: z.number(),
  detections: z.record(z.string(), RecordDetectionFactsSchema),
  evaluation: InjectedEvaluationSchema.optional(),
  labelled_incidents: z.record(z.string(), LabelledIncidentsSchema).optional(),
  skipped: z.array(z.object({ entity: z.string(), reason: z.string() })),
  detection_window: z.object({ from: z.string(), to: z.string(), flagged_from: z.string(), flagged_to: z.string() }).optional(),
  predictions: PredictedDateSchema.optional(),
  input: InputFingerprintSchema,
  outputs: z.object({ silver: z.string(), quarantine: z.string().nullable(), anomalies: z.string(), summary: z.string() }),
  detour_version: z.string(),
});

/** A date's `summary.json`, read back through its schema. */
export async function readSummary(lake: Lake, key: string): Promise<RunSummary> {
  return RunSummarySchema.parse(JSON.parse((await lake.get(key)).toString()));
}

const isRecord = (finding: AnyFinding): finding is RecordFinding => 'id' in finding;

/** One row per entity-day: several detectors flagging the same day share its stable id (`ORD20010105`). */
function seriesRows(findings: Finding[]): PublishedAnomaly[] {
  const byId = new Map<string, PublishedAnomaly>();
  for (const finding of findings) {
    const id = `${finding.entity}${compactDate(finding.date)}`;
    const existing = byId.get(id);
    // A registered model's findings say which version scored them; a supported value, how many records stand behind it.
    const attributes =
      finding.model === undefined && finding.support === undefined
        ? undefined
        : { ...(finding.model === undefined ? {} : { model: finding.model.name, model_version: finding.model.version }), ...(finding.support === undefined ? {} : { [finding.support.column]: finding.support.records }) };
    if (existing) {
      existing.detector = `${existing.detector}+${finding.detector}`;
      existing.score = Math.max(existing.score, finding.score);
      existing.reason = `${existing.reason}; ${finding.reason}`;
      if (attributes !== undefined) existing.attributes = { ...existing.attributes, ...attributes };
      continue;
    }
    const { detector, entity, date, value, expected, lower, upper, score, reason } = finding;
    byId.set(id, { id, date, detector, entity, value, expected, lower, upper, score, reason, ...(attributes === undefined ? {} : { attributes }) });
  }
  return [...byId.values()];
}

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The record step that made a finding. */
function recordStepOf(context: StepContext, stepIndex: number): RecordStepConfig {
  const step = context.params.pipeline.detect[stepIndex];
  if (!isRecordStep(step)) throw new Error('record findings come from record detectors');
  return step;
}

/** A record finding as `anomalies.json` shows it: the record's own columns first, then the verdict. */
function recordJson(finding: RecordFinding, context: StepContext, stepIndex: number): Record<string, unknown> {
  const step = recordStepOf(context, stepIndex);
  return {
    [step.id]: finding.id,
    ...(step.entity === undefined ? {} : { [step.entity]: finding.entity }),
    ...finding.values,
    label: -1,
    score: finding.score,
    reason: finding.reason,
    expected: finding.expected,
  };
}

function recordRow(finding: RecordFinding): AnomalyRow {
  return {
    id: finding.id,
    detector: finding.detector,
    entity: finding.entity ?? '',
    value: finding.values[finding.expected.feature],
    expected: finding.expected.value,
    lower: finding.expected.low,
    upper: finding.expected.high,
    score: finding.score,
    reason: finding.reason,
    attributes: { ...finding.values, label: -1 },
  };
}

/** The findings of one record, from the pipeline's record steps in step order. */
type RecordFindings = { finding: RecordFinding; stepIndex: number }[];

const finiteOrNull = (value: number | undefined) => (value !== undefined && Number.isFinite(value) ? value : null);

/**
 * One record flagged in a pipeline of several record detectors: one row whose `detectors` lists
 * each detector's score and reason; its score is the highest, its reason all of theirs, its
 * expected band the highest-scoring detector's.
 */
function mergedRecord(findings: RecordFindings, context: StepContext): { json: Record<string, unknown>; row: AnomalyRow } {
  const [{ finding: first, stepIndex }] = findings;
  const step = recordStepOf(context, stepIndex);
  const entityColumn = findings.map((flagged) => recordStepOf(context, flagged.stepIndex).entity).find((column) => column !== undefined);
  const entity = findings.map(({ finding }) => finding.entity).find((value) => value !== null) ?? null;
  const values = Object.assign({}, ...findings.map(({ finding }) => finding.values)) as Record<string, number>;
  const top = findings.reduce((best, flagged) => (flagged.finding.score > best.finding.score ? flagged : best)).finding;
  const detectors = findings.map(({ finding }) => ({ detector: finding.detector, score: finding.score, reason: finding.reason }));
  const reason = detectors.length === 1 ? top.reason : detectors.map((flagged) => `${flagged.detector}: ${flagged.reason}`).join('; ');
  const json = {
    [step.id]: first.id,
    ...(entityColumn === undefined ? {} : { [entityColumn]: entity }),
    ...values,
    label: -1,
    score: top.score,
    reason,
    expected: top.expected,
    detectors,
  };
  const row: AnomalyRow = {
    id: first.id,
    detector: detectors.map(({ detector }) => detector).join('+'),
    entity: entity ?? '',
    value: finiteOrNull(values[top.expected.feature]),
    expected: finiteOrNull(top.expected.value),
    lower: finiteOrNull(top.expected.low),
    upper: finiteOrNull(top.expected.high),
    score: top.score,
    reason,
    attributes: { ...values, label: -1, detectors },
  };
  return { json, row };
}

/**
 * Precision and recall of a date's published records on labelled rows: the labelled totals come
 * from the first record step that evaluated, the flags from the published records' labels.
 */
function publishedEvaluation(facts: RecordDetectionFacts[], published: RecordFindings[]): InjectedEvaluation | undefined {
  const evaluated = facts.find((fact) => fact.injected_anomalies !== undefined)?.injected_anomalies;
  if (evaluated === undefined) return undefined;
  const totals = new Map(Object.entries(evaluated.by_kind).map(([kind, counts]) => [kind, counts.total]));
  const flagged = new Map<string, number>();
  let falseAlarms = 0;
  for (const findings of published) {
    const kind = findings.map(({ finding }) => finding.labelledKind).find((label) => label !== undefined);
    if (kind === undefined) continue;
    if (kind === null) falseAlarms++;
    else flagged.set(kind, (flagged.get(kind) ?? 0) + 1);
  }
  return injectedEvaluation(totals, flagged, falseAlarms);
}

/** The key a detector's facts go under in the summary: its detector, or detector_index when repeated. */
function detectionKey(context: StepContext, stepIndex: number): string {
  const detectors = context.params.pipeline.detect.map((step) => step.detector);
  const detector = detectors[stepIndex];
  return detectors.filter((other) => other === detector).length > 1 ? `${detector}_${stepIndex}` : detector;
}

/**
 * Publish: the anomalies of every date are UPSERTed into the results table in one transaction
 * (rows no longer flagged removed), then each date's `anomalies.json` (deterministic: sorted by
 * id, no timestamps) and `summary.json` are written. Every write is idempotent, so a retried or
 * resumed publish converges.
 */
async function publishRun(context: StepContext, upstream: UpstreamOutputs): Promise<RunSummary[]> {
  const { lake, store, run, params } = context;
  const dated = new Map<string, { records: Map<string, RecordFindings>; series: Finding[] }>();
  const forDate = (date: string) => {
    let entry = dated.get(date);
    if (!entry) dated.set(date, (entry = { records: new Map(), series: [] }));
    return entry;
  };
  for (const { partition, output } of [...upstream.detect].sort((a, b) => a.partition.detectStep - b.partition.detectStep)) {
    const findings = await readFindings(lake, output);
    for (const finding of findings) {
      const entry = forDate(finding.date);
      if (isRecord(finding)) {
        const record = entry.records.get(finding.id);
        if (record) record.push({ finding, stepIndex: partition.detectStep });
        else entry.records.set(finding.id, [{ finding, stepIndex: partition.detectStep }]);
      } else {
        entry.series.push(finding);
      }
    }
  }
  const recordSteps = params.pipeline.detect.filter(isRecordStep);
  const windows = upstream.detect.flatMap(({ output }) => (output.window ? [output.window] : []));
  const skipped = upstream.detect.flatMap(({ output }) => output.skipped);
  const dates = Object.keys(upstream.clean.dates)
    .sort()
    .map((date) => {
      const layout = pipelineLayout(run.pipeline, params.pipeline, date);
      const entry = forDate(date);
      // A record only a non-standalone step flagged is not published; with one record step, rows are as that step writes them.
      const published = [...entry.records.values()].filter((findings) => findings.some(({ stepIndex }) => recordStepOf(context, stepIndex).standalone));
      const records = published.map((findings) => {
        if (recordSteps.length > 1) return mergedRecord(findings, context);
        const [{ finding, stepIndex }] = findings;
        return { json: recordJson(finding, context, stepIndex), row: recordRow(finding) };
      });
      const series = seriesRows(entry.series);
      const rows = [...records.map(({ row }) => row), ...series.map(({ date: _date, ...row }) => row)].sort(byId);
      const json = [...records.map(({ json: record, row }) => ({ id: row.id, record })), ...series.map((row) => ({ id: row.id, record: row }))]
        .sort(byId)
        .map(({ record }) => record);
      const cleaned = upstream.clean.dates[date];
      const dayFacts = upstream.detect
        .filter(({ output }) => output.facts?.date === date)
        .sort((a, b) => a.partition.detectStep - b.partition.detectStep)
        .map(({ partition, output }) => {
          const { date: _date, ...facts } = output.facts as NonNullable<DetectOutput['facts']>;
          return [detectionKey(context, partition.detectStep), facts] as const;
        });
      const detections = Object.fromEntries(dayFacts);
      const evaluation = publishedEvaluation(dayFacts.map(([, facts]) => facts), published);
      // A step split into entity shards has one comparison per shard: they add up.
      const labelledByStep = new Map<string, LabelledIncidents[]>();
      for (const { partition, output } of upstream.detect) {
        for (const { date: labelledDate, ...incidents } of output.labelled ?? []) {
          if (labelledDate !== date) continue;
          const key = detectionKey(context, partition.detectStep);
          labelledByStep.set(key, [...(labelledByStep.get(key) ?? []), incidents]);
        }
      }
      const labelled = [...labelledByStep].map(([key, parts]) => [key, sumLabelledIncidents(parts)] as const);
      const summary: RunSummary = {
        pipeline: run.pipeline,
        run_id: run.id,
        logical_date: date,
        dataset: params.pipeline.dataset,
        rows_read: cleaned.rows_read,
        rows_valid: cleaned.rows_valid,
        rows_quarantined: cleaned.rows_quarantined,
        quarantine_reasons: cleaned.quarantine_reasons,
        ...(cleaned.row_warnings === undefined ? {} : { row_warnings: cleaned.row_warnings }),
        quality: upstream.quality.dates[date],
        aggregates: upstream.aggregate.dates[date] ?? [],
        anomalies: rows.length,
        detections,
        ...(evaluation === undefined ? {} : { evaluation }),
        ...(labelled.length === 0 ? {} : { labelled_incidents: Object.fromEntries(labelled) }),
        skipped,
        input: cleaned.input,
        outputs: { silver: cleaned.silver, quarantine: cleaned.quarantine, anomalies: layout.anomalies, summary: layout.summary },
        detour_version: DETOUR_VERSION,
      };
      if (windows.length > 0) {
        const from = windows.map((window) => window.from).sort()[0];
        summary.detection_window = { from, to: run.endDate, flagged_from: run.logicalDate, flagged_to: run.endDate };
      }
      const predicted = upstream.predict.dates[date];
      if (predicted !== undefined) summary.predictions = predicted;
      return { layout, rows, json, summary };
    });
  // Every date in one transaction, then the dates' files side by side; a date's summary comes
  // last, so that it exists only once the date is published.
  await store.replaceAnomalies(pipelineTables(run.pipeline, params.pipeline).anomaliesTable, run.id, dates.map(({ summary, rows }) => ({ logicalDate: summary.logical_date, rows })));
  await Promise.all(
    dates.map(async ({ layout, json, summary }) => {
      await lake.put(layout.anomalies, `${JSON.stringify(json, null, 1)}\n`);
      await lake.put(layout.summary, `${JSON.stringify(summary, null, 2)}\n`);
    }),
  );
  return dates.map(({ summary }) => summary);
}

/** What publish leaves for the run's record: per date, how many anomalies and where the summary is. */
export interface PublishOutput {
  dates: Record<string, { anomalies: number; summary: string }>;
}

/** Publish: once per run, after every detect partition (see publishRun). */
export const publishStep: StepHandler<WholeRun, PublishOutput> = {
  kind: 'publish',
  partition: WholeRunSchema,
  output: z.object({ dates: z.record(z.string(), z.object({ anomalies: z.number(), summary: z.string() })) }),
  plan: () => [{ kind: 'run' }],
  run: async (context) => {
    const summaries = await publishRun(context, upstreamOf(await context.store.listSteps(context.run.id)));
    return { dates: Object.fromEntries(summaries.map((summary) => [summary.logical_date, { anomalies: summary.anomalies, summary: summary.outputs.summary }])) };
  },
};
