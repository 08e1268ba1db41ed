/**
 * The streaming detector in a pipeline: each date of a run, per entity of the shard, continues from
 * the state the entity had after the date before (the run's own previous date, else the newest
 * checkpoint in the lake before the date), scores the date's rows and checkpoints the state after
 * it. A rerun of a date therefore starts from the same checkpoint as the first run did.
 */
import { z } from 'zod';
import type { StreamStepConfig } from '../config/index.js';
import { addDays, dateRange } from '../dates.js';
import { newStreamState, noVerdicts, scoreStream, seriesParams, STREAM_STATE_LENGTH, type RowScores, type StreamParams } from '../detectors/index.js';
import type { Engine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { checkpointKey, checkpointPrefix, type CheckpointStream } from '../lake/index.js';
import type { StepContext } from './context.js';
import type { EntityShard } from './contract.js';
import { inShard, readEntityRows, rowsByEntity } from './entity-rows.js';
import { ForecastErrors } from './forecast-errors.js';
import { labelledIncidentsByDate, type LabelledIncidents } from './labelled-incidents.js';
import { dayFindings, type Finding, type SeriesDetection } from './series-detect.js';

/** A checkpoint as stored: NaN (a slot not seen yet) is null in JSON. */
const CheckpointSchema = z.object({
  entity: z.string(),
  date: z.string(),
  state: z.array(z.number().nullable()).length(STREAM_STATE_LENGTH),
});

function encodeState(entity: string, date: string, state: Float64Array): string {
  return JSON.stringify({ entity, date, state: Array.from(state, (value) => (Number.isNaN(value) ? null : value)) });
}

function decodeState(key: string, bytes: Buffer): Float64Array {
  const parsed = CheckpointSchema.safeParse(JSON.parse(bytes.toString()));
  if (!parsed.success) throw new InputError(`checkpoint ${key} is not a streaming state of this detour version: delete it to start that entity afresh`);
  return Float64Array.from(parsed.data.state, (value) => value ?? Number.NaN);
}

/**
 * The newest checkpoint of each wanted entity from the `lookbackDays` dates before `date`, nearest
 * date first (one listing per date, not a probe per entity).
 */
async function previousStates(context: StepContext, stream: CheckpointStream, date: string, entities: readonly string[], lookbackDays: number): Promise<Map<string, Float64Array>> {
  const states = new Map<string, Float64Array>();
  let wanted = entities.filter((entity) => !states.has(entity));
  for (let back = 1; back <= lookbackDays && wanted.length > 0; back++) {
    const day = addDays(date, -back);
    const present = new Set((await context.lake.list(checkpointPrefix(stream, day))).map((object) => object.key));
    for (const entity of wanted) {
      const key = checkpointKey(stream, day, entity);
      if (present.has(key)) states.set(entity, decodeState(key, await context.lake.get(key)));
    }
    wanted = wanted.filter((entity) => !states.has(entity));
  }
  return states;
}

/**
 * Scores the run's dates, in order, for the entities of one shard; every entity with rows on a
 * date gets its checkpoint after that date. Findings: one per entity and date with alerts (its
 * most anomalous row); the forecast errors of every row; with labelled rows, how the alerts
 * compare with the labels per date.
 */
export async function detectStreamShard(engine: Engine, context: StepContext, shard: EntityShard, step: StreamStepConfig): Promise<SeriesDetection & { checkpoints: number }> {
  const params = seriesParams('stream', step.params) as StreamParams;
  const stream: CheckpointStream = { pipeline: context.run.pipeline, detector: step.detector, table: step.table, value: step.value };
  const findings: Finding[] = [];
  const labelled = new Map<string, LabelledIncidents>();
  const carried = new Map<string, Float64Array>();
  const errors = new ForecastErrors();
  let checkpoints = 0;
  for (const date of dateRange(context.run.logicalDate, context.run.endDate)) {
    // Hash shards, not dealt ones: an entity's state is carried from date to date within its shard,
    // so its shard must not depend on which other entities have rows on a date.
    const { table } = await readEntityRows(engine, context, { ...step, columns: [step.value], labels: step.evaluate }, { from: date, to: date }, { include: inShard(shard), what: `detect step ${step.detector}` });
    const byEntity = rowsByEntity(table);
    const stored = await previousStates(context, stream, date, [...byEntity.keys()].filter((entity) => !carried.has(entity)), step.lookbackDays);
    const flagged = new Uint8Array(table.entity.length);
    for (const [entity, rows] of byEntity) {
      const state = carried.get(entity) ?? stored.get(entity) ?? newStreamState();
      const values = Float64Array.from(rows, (row) => table.values[step.value][row]);
      const result = scoreStream(state, Float64Array.from(rows, (row) => table.timeMs[row]), values, params);
      await context.lake.put(checkpointKey(stream, date, entity), encodeState(entity, date, state));
      checkpoints++;
      carried.set(entity, state);
      const scores: RowScores = { ...noVerdicts(rows.length), score: result.score, anomalous: result.isAnomaly, expected: result.expected, lower: result.lower, upper: result.upper };
      rows.forEach((row, k) => (flagged[row] = result.isAnomaly[k]));
      errors.addPoints('stream', undefined, () => date, values, result.expected);
      findings.push(...dayFindings({ detector: 'stream', features: [step.value] }, table, entity, rows, scores, { detector: 'stream', note: 'streaming seasonal robust z-score' }));
    }
    if (table.labelledKind !== undefined) for (const [day, incidents] of labelledIncidentsByDate(table, flagged)) labelled.set(day, incidents);
  }
  return { findings, skipped: [], checkpoints, forecasts: errors.sums(), ...(labelled.size === 0 ? {} : { labelled }) };
}
