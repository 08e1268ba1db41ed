import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { addDays, dateRange } from '../../src/dates.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineLayout, runParamsOf, startRun, startTrainingRun, sumLabelledIncidents, trainingParamsOf, type PublishedAnomaly, type RunServices } from '../../src/pipeline/index.js';
import { writeSampleTraffic } from '../../src/sample/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { embeddedServices } from '../helpers/pipeline.js';

/** Three sensors (an office, a home, a data centre) for twelve days: ten to learn from, two to detect on. */
const SAMPLE = { sensors: 3, days: 12, from: '2024-03-04', seed: 7 };
const LAST_TRAINING_DAY = addDays(SAMPLE.from, 9);
const DETECTION_DAYS = dateRange(addDays(SAMPLE.from, 10), addDays(SAMPLE.from, 11));

describe('the built-in traffic pipeline: an autoencoder per sensor, the shallow model without one', () => {
  let config: DetourConfig;
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  const published = async (date: string) => JSON.parse((await lake.get(pipelineLayout('traffic', config.pipelines.traffic, date).anomalies)).toString()) as PublishedAnomaly[];

  beforeAll(async () => {
    // Fewer epochs than the built-in default: what is tested here is the lifecycle, not the fit.
    const builtIn = DetourConfigSchema.parse({});
    const traffic = builtIn.pipelines.traffic;
    config = { ...builtIn, pipelines: { ...builtIn.pipelines, traffic: { ...traffic, train: [{ ...traffic.train[0], params: { epochs: 5 } }] } } };
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-traffic-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    services = await embeddedServices(lake, store, { concurrency: 2 });
    await writeSampleTraffic(lake, SAMPLE);
    // The history the models learn from, cleaned by one run; no model yet: the shallow model scores it.
    const history = await startRun(services, 'traffic', runParamsOf(config, 'traffic'), dateRange(SAMPLE.from, LAST_TRAINING_DAY));
    expect(history.run.status).toBe('succeeded');
    expect(history.summaries[0].skipped).toEqual([]);
  }, 240_000);
  afterAll(async () => {
    await services?.queue.close();
    await store?.close();
  });

  it('skips sensors with less than a week of history, saying why', async () => {
    const result = await startTrainingRun(services, 'traffic', trainingParamsOf(config, 'traffic'), addDays(SAMPLE.from, 5));
    expect(result.summary.models[0].trained).toEqual([]);
    expect(result.summary.models[0].skipped).toEqual(
      ['sensor-01', 'sensor-02', 'sensor-03'].map((entity) => ({ entity, reason: expect.stringMatching(/^autoencoder: training rows span 4\.\d days, fewer than minTrainingDays 7 \(the network learns the time of week\)$/) })),
    );
  });

  it('trains and promotes an autoencoder per sensor, then detects with them; a sensor without one falls back to the shallow model', async () => {
    const training = await startTrainingRun(services, 'traffic', trainingParamsOf(config, 'traffic', { entities: ['sensor-01', 'sensor-02'] }), LAST_TRAINING_DAY);
    const [model] = training.summary.models;
    expect(model.trained.map((trained) => `${trained.name}@${trained.version} ${trained.stage}: ${trained.reason}`)).toEqual([
      'traffic_autoencoder/sensor-01@1 production: auto: no production version before',
      'traffic_autoencoder/sensor-02@1 production: auto: no production version before',
    ]);
    expect(model.trained[0].metrics).toMatchObject({ step_seconds: 60, validation_loss: expect.any(Number) });

    const detection = await startRun(services, 'traffic', runParamsOf(config, 'traffic'), DETECTION_DAYS);
    expect(detection.run.params.models).toEqual({ 0: { model: 'traffic_autoencoder', versions: { 'sensor-01': 1, 'sensor-02': 1 } } });
    expect(detection.summaries[0].skipped).toEqual([]);
    const rows = (await Promise.all(DETECTION_DAYS.map(published))).flat();
    const bySensor = (sensor: string) => rows.filter((row) => row.entity === sensor);
    expect(bySensor('sensor-01').length).toBeGreaterThan(0);
    for (const row of [...bySensor('sensor-01'), ...bySensor('sensor-02')]) {
      expect(row).toMatchObject({ detector: 'autoencoder', attributes: { model: `traffic_autoencoder/${row.entity}`, model_version: 1 } });
    }
    for (const row of bySensor('sensor-03')) {
      expect(row.detector).toBe('shallow');
      expect(row.reason).toMatch(/; shallow model: autoencoder: no production model traffic_autoencoder\/sensor-03 when the run started$/);
    }
    // The labels of the sample are compared with the flags, per date.
    const labelled = sumLabelledIncidents(detection.summaries.map((summary) => summary.labelled_incidents?.autoencoder ?? { by_kind: {}, normal_rows: 0, flagged_normal_rows: 0 }));
    expect(labelled.normal_rows).toBeGreaterThan(0.9 * SAMPLE.sensors * 1440 * DETECTION_DAYS.length);
    expect(labelled.flagged_normal_rows / labelled.normal_rows).toBeLessThan(0.02);
    expect(Object.values(labelled.by_kind).reduce((sum, counts) => sum + counts.incidents, 0)).toBeGreaterThan(0);
  });
});
