import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { InputError } from '../../src/errors.js';
import type { FsLake } from '../../src/lake/index.js';
import {
  loadModel,
  ModelCache,
  pipelineLayout,
  promoteModelVersion,
  readTrainingSummary,
  rerunRun,
  rollbackModel,
  runParamsOf,
  startRun,
  startTrainingRun,
  trainingParamsOf,
  type PublishedAnomaly,
  type RunServices,
} from '../../src/pipeline/index.js';
import { SeededRandom } from '../../src/sample/index.js';
import type { Store } from '../../src/store/index.js';
import { openTempServices } from '../helpers/pipeline.js';

const ROUTES = ['B1', 'B2', 'B3', 'B4'];
/** B5 starts late: too little history for the first trainings. */
const LATE_ROUTE = { route: 'B5', from: '2024-02-25' };
const FROM = '2024-01-01';
const TO = '2024-03-31';
const INCIDENT = { route: 'B3', date: '2024-03-04' };
/** From this day B2 runs 8 minutes later: a model validated on those days validates worse. */
const DRIFT = { route: 'B2', from: '2024-03-20', minutes: 8 };

function departuresCsv(date: string, random: SeededRandom): string {
  const lines = ['route,departed_at,minutes_late'];
  const routes = date >= LATE_ROUTE.from ? [...ROUTES, LATE_ROUTE.route] : ROUTES;
  for (const [index, route] of routes.entries()) {
    const trips = 20 + random.below(10);
    for (let trip = 0; trip < trips; trip++) {
      const incident = route === INCIDENT.route && date === INCIDENT.date ? 45 : 0;
      const drift = route === DRIFT.route && date >= DRIFT.from ? DRIFT.minutes : 0;
      const late = 2 + index + random.normal() * 1.5 + incident + drift;
      lines.push(`${route},${date} ${String(6 + (trip % 16)).padStart(2, '0')}:${String(trip % 60).padStart(2, '0')}:00,${late.toFixed(1)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A training step of an Isolation Forest per route over the daily lateness. */
const trainStep = (model: string, promote: string, extra = '') => `
      - { model: ${model}, detector: iforest, table: route_lateness, entity: route, time: day, features: [avg_late, departures],
          history: 60, minRows: 30, params: { trees: 100, contamination: 0.05 }, promote: ${promote}${extra} }`;

const YAML = `
datasets:
  departures:
    columns: { route: { type: string }, departed_at: { type: timestamp }, minutes_late: { type: number } }
pipelines:
  bus_delays:
    dataset: departures
    aggregate:
      - name: route_lateness
        sql: SELECT route, CAST(departed_at AS DATE) AS day, avg(minutes_late) AS avg_late, count(*) AS departures FROM departures GROUP BY ALL
    detect:
      - { detector: iforest, table: route_lateness, entity: route, time: day, features: [avg_late, departures], model: production, modelName: bus_iforest }
    train:${trainStep('bus_iforest', 'manual', ', partitions: 2')}${trainStep('bus_auto', 'auto')}
`;

describe('the model lifecycle: train, register, promote, score with production, rerun with the same version', () => {
  let config: DetourConfig;
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  const train = (date: string, models: string[], entities?: string[]) => startTrainingRun(services, 'bus_delays', trainingParamsOf(config, 'bus_delays', { models, entities }), date);
  const detect = (dates: string[]) => startRun(services, 'bus_delays', runParamsOf(config, 'bus_delays'), dates);
  const published = async (date: string) => JSON.parse((await lake.get(pipelineLayout('bus_delays', config.pipelines.bus_delays, date).anomalies)).toString()) as PublishedAnomaly[];
  const incidentRow = async () => (await published(INCIDENT.date)).find((row) => row.entity === INCIDENT.route);

  beforeAll(async () => {
    config = parseConfigText(YAML, 'detour.yaml');
    ({ lake, store, services } = await openTempServices('detour-models-', { concurrency: 2 }));
    const random = new SeededRandom(11);
    for (const date of dateRange(FROM, TO)) await lake.put(`bronze/departures/date=${date}/departures.csv`, departuresCsv(date, random));
    // The history the models learn from: aggregated by one run over the whole range, which
    // scores nothing yet (no production model), every route skipped with why.
    const history = await detect(dateRange(FROM, TO));
    expect(history.summaries[0].skipped).toEqual([...ROUTES, LATE_ROUTE.route].map((route) => ({ entity: route, reason: `iforest: no production model bus_iforest/${route} when the run started` })));
  }, 240_000);
  afterAll(async () => {
    await services?.queue.close();
    await store?.close();
  });

  let firstRunId: string;

  it('trains a version per entity in shards, skipping an entity with too little history, with the reason in the summary', async () => {
    const result = await train('2024-03-01', ['bus_iforest']);
    expect(result.run).toMatchObject({ status: 'succeeded', logicalDate: '2024-03-01', params: { training: { steps: [0] } } });
    expect(result.steps.map((step) => `${step.step} ${step.partition} ${step.status}`)).toEqual(['train 0-bus_iforest-shard1of2 succeeded', 'train 0-bus_iforest-shard2of2 succeeded']);
    const [summary] = result.summary.models;
    expect(summary.window).toEqual({ from: '2024-01-02', to: '2024-03-01' });
    expect(summary.trained.map((model) => `${model.name}@${model.version} ${model.stage}`)).toEqual(ROUTES.map((route) => `bus_iforest/${route}@1 candidate`));
    expect(summary.skipped).toEqual([{ entity: 'B5', reason: '6 rows in 2024-01-02..2024-03-01, fewer than minRows 30' }]);
    expect(await readTrainingSummary(lake, result.run)).toEqual(result.summary);
    // Visible in the registry with what they learnt from; a training run covers no detection date.
    const b3 = await store.getModelVersion('bus_iforest/B3', 1);
    expect(b3).toMatchObject({ detector: 'iforest', entity: 'B3', window: { from: '2024-01-02', to: '2024-03-01' }, trainingRunId: result.run.id, stage: 'candidate' });
    expect(b3.inputs).toHaveLength(60);
    expect(b3.inputs[0]).toEqual({ key: 'gold/route_lateness/date=2024-01-02/data.parquet', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(b3.metrics).toMatchObject({ training_rows: 48, validation_rows: 12, validation_loss: expect.any(Number) });
    expect(b3.params).toMatchObject({ trees: 100, contamination: 0.05, history: 60, minRows: 30 });
    expect(b3.artifact?.key).toMatch(/^models\/bus_iforest\/B3\/v1\/model-[0-9a-f]{16}\.json$/);
    expect(await store.succeededDates('bus_delays', '2024-03-01', '2024-03-01')).toEqual(['2024-03-01']);
  });

  it('scores a run with the production versions, and records which version flagged what', async () => {
    for (const route of ROUTES) await promoteModelVersion(store, lake, config.pipelines, `bus_iforest/${route}`, 1);
    const run = await detect(dateRange('2024-03-02', '2024-03-05'));
    firstRunId = run.run.id;
    expect(run.run.params.models).toEqual({ 0: { model: 'bus_iforest', versions: { B1: 1, B2: 1, B3: 1, B4: 1 } } });
    expect(run.summaries[0].skipped).toEqual([{ entity: 'B5', reason: 'iforest: no production model bus_iforest/B5 when the run started' }]);
    const incident = await incidentRow();
    expect(incident).toMatchObject({ id: 'B320240304', detector: 'iforest', attributes: { model: 'bus_iforest/B3', model_version: 1 } });
    expect(incident?.reason).toMatch(/^iforest score 0\.\d\d: avg_late 4\d\.\d \(usual for B3 \d\.\d–\d\.\d\), departures \d+\.\d; model bus_iforest\/B3 v1$/);
    expect((await store.listAnomalies('bus_delays_anomalies', INCIDENT.date)).find((row) => row.id === 'B320240304')?.attributes).toEqual({ model: 'bus_iforest/B3', model_version: 1 });
  });

  it('promotes a newer version; a rerun of the first run still scores with the first, byte for byte', async () => {
    const before = await lake.get(pipelineLayout('bus_delays', config.pipelines.bus_delays, INCIDENT.date).anomalies);
    const second = await train('2024-03-05', ['bus_iforest']);
    expect(second.summary.models[0].trained.map((model) => model.version)).toEqual([2, 2, 2, 2]);
    for (const route of ROUTES) {
      expect(await promoteModelVersion(store, lake, config.pipelines, `bus_iforest/${route}`, 2)).toMatchObject({ replaced: 1, unchanged: false });
    }
    const rerun = await rerunRun(services, firstRunId);
    expect(rerun.run.params.models).toEqual({ 0: { model: 'bus_iforest', versions: { B1: 1, B2: 1, B3: 1, B4: 1 } } });
    expect((await incidentRow())?.attributes).toEqual({ model: 'bus_iforest/B3', model_version: 1 });
    expect(await lake.get(pipelineLayout('bus_delays', config.pipelines.bus_delays, INCIDENT.date).anomalies)).toEqual(before);
    // A new run of the same dates scores with what is production now.
    const fresh = await detect(dateRange('2024-03-02', '2024-03-05'));
    expect(fresh.run.params.models).toEqual({ 0: { model: 'bus_iforest', versions: { B1: 2, B2: 2, B3: 2, B4: 2 } } });
    for (const row of await published(INCIDENT.date)) expect(row.attributes).toMatchObject({ model_version: 2 });
    // A step may pin a version number instead of following production.
    const pipeline = config.pipelines.bus_delays;
    const pinned: DetourConfig = { ...config, pipelines: { ...config.pipelines, bus_delays: { ...pipeline, detect: [{ ...pipeline.detect[0], model: 1 } as (typeof pipeline.detect)[0]] } } };
    const pinnedRun = await startRun(services, 'bus_delays', runParamsOf(pinned, 'bus_delays'), [INCIDENT.date]);
    expect(pinnedRun.run.params.models).toEqual({ 0: { model: 'bus_iforest', versions: { B1: 1, B2: 1, B3: 1, B4: 1 } } });
    expect((await incidentRow())?.attributes).toEqual({ model: 'bus_iforest/B3', model_version: 1 });
  });

  it('rolls back to the version production replaced, and no further than the first production', async () => {
    expect(await rollbackModel(store, lake, 'bus_iforest/B3')).toMatchObject({ production: { version: 1, stage: 'production' }, replaced: 2 });
    expect(await store.getModelVersion('bus_iforest/B3', 2)).toMatchObject({ stage: 'archived' });
    await expect(rollbackModel(store, lake, 'bus_iforest/B3')).rejects.toThrow(new InputError('model bus_iforest/B3 v1 replaced no earlier production version: nothing to roll back to'));
    expect((await store.listModelStages('bus_iforest/B3')).slice(-2).map((change) => `v${change.version} ${change.stage}: ${change.reason}`)).toEqual([
      'v2 archived: rolled back to v1',
      'v1 production: rollback from v2',
    ]);
  });

  it('auto-promotes a first version, then refuses one that validates worse', async () => {
    const first = await train('2024-03-10', ['bus_auto'], ['B2', 'B9']);
    expect(first.summary.models[0].trained).toEqual([expect.objectContaining({ name: 'bus_auto/B2', version: 1, stage: 'production', reason: 'auto: no production version before' })]);
    expect(first.summary.models[0].skipped).toEqual([{ entity: 'B9', reason: 'no rows in 2024-01-11..2024-03-10' }]);
    // Three weeks later B2's recent days (its validation days) run 8 minutes late.
    const second = await train('2024-03-31', ['bus_auto'], ['B2']);
    const [worse] = second.summary.models[0].trained;
    expect(worse).toMatchObject({ name: 'bus_auto/B2', version: 2, stage: 'candidate' });
    expect(worse.reason).toMatch(/^not promoted: worse validation_loss 0\.\d+ vs production v1's 0\.\d+$/);
    expect(worse.metrics.validation_loss).toBeGreaterThan((await store.getModelVersion('bus_auto/B2', 1)).metrics?.validation_loss as number);
    expect((await store.listModels({ name: 'bus_auto', stage: 'production' })).map((model) => model.version)).toEqual([1]);
    expect((await store.listModelStages('bus_auto/B2')).at(-1)?.reason).toBe(`registered as a candidate: ${worse.reason}`);
  });

  it('refuses with one line to promote a version that does not exist or is of another detector', async () => {
    await expect(promoteModelVersion(store, lake, config.pipelines, 'bus_iforest/B3', 7)).rejects.toThrow(new InputError('model bus_iforest/B3 has no version 7 (versions: 1, 2)'));
    await expect(promoteModelVersion(store, lake, config.pipelines, 'bus_nothing/B3', 1)).rejects.toThrow(InputError);
    const { version } = await store.reserveModelVersion({ name: 'bus_iforest/B3', detector: 'arima', entity: 'B3', params: {}, window: { from: '2024-01-01', to: '2024-03-01' }, inputs: [], detourVersion: 'x', trainingRunId: 'hand-made' });
    await store.registerModelVersion('bus_iforest/B3', version, { artifact: { key: 'models/x.json', sha256: '0'.repeat(64), bytes: 1 }, metrics: { validation_loss: 0 }, note: 'by hand' });
    await expect(promoteModelVersion(store, lake, config.pipelines, 'bus_iforest/B3', version)).rejects.toThrow(new InputError(`model bus_iforest/B3 v${version} was trained with arima; bus_iforest/B3 serves iforest models`));
  });

  it('a corrupt or missing artifact is one error naming the model, and the production version keeps serving', async () => {
    const cache = new ModelCache({ lake, store, load: loadModel, productionTtlMs: 0 });
    expect((await cache.production('bus_iforest/B1'))?.record.version).toBe(2);
    const v1 = await store.getModelVersion('bus_iforest/B1', 1);
    await lake.put(v1.artifact?.key as string, '{"format":"detour-model/1"}');
    await expect(promoteModelVersion(store, lake, config.pipelines, 'bus_iforest/B1', 1)).rejects.toThrow(
      /^model bus_iforest\/B1 v1: its artifact models\/bus_iforest\/B1\/v1\/model-[0-9a-f]{16}\.json is corrupt \(sha256 [0-9a-f]{12}…, registered [0-9a-f]{12}…\); production stays v2$/,
    );
    expect((await store.getModelVersion('bus_iforest/B1', 2)).stage).toBe('production');
    // Promoted behind the checks' back: the cache keeps serving v2, which loads.
    await store.promoteModel('bus_iforest/B1', 1, { reason: 'by hand, unchecked' });
    expect((await cache.production('bus_iforest/B1'))?.record.version).toBe(2);
    await expect(cache.refresh('bus_iforest/B1')).rejects.toThrow(/^model bus_iforest\/B1 v1: its artifact .* is corrupt/);
    // A run scoring with it fails with the same line, before publishing.
    await expect(detect(['2024-03-06'])).rejects.toThrow(/^model bus_iforest\/B1 v1: its artifact .* is corrupt/);
    await lake.delete(v1.artifact?.key as string);
    await expect(detect(['2024-03-06'])).rejects.toThrow(/^model bus_iforest\/B1 v1: its artifact models\/bus_iforest\/B1\/v1\/.* is missing from file:\/\//);
    await store.promoteModel('bus_iforest/B1', 2, { reason: 'back' });
  });

  it('caches loaded models by version, least recently used out beyond its size bound, production re-read after a promotion', async () => {
    const one = await store.getModelVersion('bus_iforest/B2', 1);
    const cache = new ModelCache({ lake, store, load: loadModel, maxBytes: (one.artifact?.bytes ?? 0) * 2.5 });
    const first = await cache.get('bus_iforest/B2', 1);
    expect(await cache.get('bus_iforest/B2', 1)).toBe(first);
    await cache.get('bus_iforest/B3', 1);
    await cache.get('bus_iforest/B2', 1); // B2 v1 is now the most recently used
    await cache.get('bus_iforest/B4', 1);
    expect(cache.size.models).toBe(2);
    expect(await cache.get('bus_iforest/B2', 1)).toBe(first);
    expect(await cache.get('bus_iforest/B3', 1)).not.toBe(undefined);

    expect((await cache.production('bus_iforest/B4'))?.record.version).toBe(2);
    await promoteModelVersion(store, lake, config.pipelines, 'bus_iforest/B4', 1);
    // Another process promoted: trusted until refreshed (or the TTL passes).
    expect((await cache.production('bus_iforest/B4'))?.record.version).toBe(2);
    await cache.refresh('bus_iforest/B4');
    expect((await cache.production('bus_iforest/B4'))?.record.version).toBe(1);
    expect(await cache.production('bus_iforest/B5')).toBeNull();
  });
});
