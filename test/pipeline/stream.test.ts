import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { addDays, dateRange } from '../../src/dates.js';
import { checkpointKey, type FsLake } from '../../src/lake/index.js';
import { pipelineLayout, rerunRun, runParamsOf, startRun, type PublishedAnomaly, type RunServices } from '../../src/pipeline/index.js';
import { writeSampleTraffic } from '../../src/sample/index.js';
import type { Store } from '../../src/store/index.js';
import { openTempServices } from '../helpers/pipeline.js';

/** Two sensors for five days: a day to learn, then four detected, one run per day or one run for all. */
const SAMPLE = { sensors: 2, days: 5, from: '2024-03-04', seed: 7 };
const DATES = dateRange(SAMPLE.from, addDays(SAMPLE.from, SAMPLE.days - 1));
const STREAM = { detector: 'stream', table: 'traffic', entity: 'sensor_id', time: 'ts', value: 'bytes', evaluate: { flag: 'is_injected_anomaly', kind: 'injected_kind' } };

function configWith(pipelines: Record<string, unknown>): DetourConfig {
  return DetourConfigSchema.parse({ pipelines });
}

describe('detector: stream in a pipeline', () => {
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  const config = configWith({ daily: { dataset: 'traffic', detect: [STREAM] }, whole: { dataset: 'traffic', detect: [{ ...STREAM, partitions: 2 }] } });
  const checkpoint = (pipeline: string, date: string, entity: string) => lake.get(checkpointKey({ pipeline, detector: 'stream', table: 'traffic', value: 'bytes' }, date, entity)).then((bytes) => JSON.parse(bytes.toString()) as { state: (number | null)[] });
  const published = async (pipeline: string, date: string) =>
    (JSON.parse((await lake.get(pipelineLayout(pipeline, config.pipelines[pipeline], date).anomalies)).toString()) as PublishedAnomaly[]).map(({ entity, score, expected, value }) => ({ entity, score, expected, value }));

  beforeAll(async () => {
    ({ lake, store, services } = await openTempServices('detour-stream-', { concurrency: 2 }));
    await writeSampleTraffic(lake, SAMPLE);
  }, 120_000);
  afterAll(async () => {
    await services?.queue.close();
    await store?.close();
  });

  it('continues each sensor from the day before: a run per day ends where one run over every day ends', async () => {
    const dailySummaries = [];
    for (const date of DATES) {
      const daily = await startRun(services, 'daily', runParamsOf(config, 'daily'), [date]);
      expect(daily.run.status).toBe('succeeded');
      dailySummaries.push(...daily.summaries);
    }
    const whole = await startRun(services, 'whole', runParamsOf(config, 'whole'), DATES);
    expect(whole.run.status).toBe('succeeded');
    // Two shards' comparisons with the labels add up to one shard's.
    expect(whole.summaries.map((summary) => summary.labelled_incidents)).toEqual(dailySummaries.map((summary) => summary.labelled_incidents));
    for (const entity of ['sensor-01', 'sensor-02']) {
      for (const date of DATES) expect((await checkpoint('daily', date, entity)).state).toEqual((await checkpoint('whole', date, entity)).state);
    }
    let alerts = 0;
    for (const date of DATES) {
      const daily = await published('daily', date);
      expect(daily).toEqual(await published('whole', date));
      alerts += daily.length;
    }
    expect(alerts).toBeGreaterThan(0);
    // The first day only teaches the model.
    expect(await published('daily', DATES[0])).toEqual([]);
    const incidents = Object.values(whole.summaries.at(-1)?.labelled_incidents ?? {});
    expect(incidents).toHaveLength(1);
    expect(incidents[0].normal_rows).toBeGreaterThan(2 * 1400);
  }, 240_000);

  it('reruns a date from the checkpoint of the date before, not from the latest one', async () => {
    const third = DATES[2];
    const before = await checkpoint('daily', third, 'sensor-01');
    const firstRun = (await store.listRuns({ pipeline: 'daily' })).find((run) => run.logicalDate === third && run.endDate === third);
    expect(firstRun).toBeDefined();
    const rerun = await rerunRun(services, firstRun!.id);
    expect(rerun.run.status).toBe('succeeded');
    expect((await checkpoint('daily', third, 'sensor-01')).state).toEqual(before.state);
    expect(await published('daily', third)).toEqual(await published('whole', third));
  }, 120_000);

  it('refuses unknown detector params, naming the field', async () => {
    const bad = configWith({ bad: { dataset: 'traffic', detect: [{ ...STREAM, params: { treshold: 4 } }] } });
    const result = await startRun(services, 'bad', runParamsOf(bad, 'bad'), [DATES[0]]).catch((error: Error) => error);
    const message = result instanceof Error ? result.message : JSON.stringify(result.steps.map((step) => step.error).filter(Boolean));
    expect(message).toMatch(/stream params\.treshold: unknown parameter/);
  }, 120_000);
});
