import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { checkStaleness, driftVerdict, flagRateVerdict, performanceVerdict, staleVerdict } from '../../src/pipeline/index.js';
import { openStore, type DriftRow, type PerformanceRow } from '../../src/store/index.js';

const model = { name: 'fleet_service', version: 3 };
const drift = (feature: string, psi: number | null, ks: number | null = 0.1): DriftRow => ({ date: '2015-02-01', model, feature, windowDays: 7, rows: 700, constant: psi === null, psi, ks });
const performance = (date: string, matched: number, auc: number | null, logLoss = 0.3): PerformanceRow => ({ date, model, predictions: 500, matched, positives: 40, auc, logLoss, brier: 0.1, calibration: [] });
const driftThresholds = { psi: 0.2, windowDays: 7 };
const alarms = { minRows: 100, minAuc: 0.6, maxLogLoss: 0.5 };

describe('alarm verdicts', () => {
  it.each([
    { name: 'nothing measured', rows: [], thresholds: driftThresholds, firing: undefined },
    { name: 'constant features only', rows: [drift('temperature', null)], thresholds: driftThresholds, firing: undefined },
    { name: 'every PSI at most the threshold', rows: [drift('temperature', 0.2), drift('score', 0.05)], thresholds: driftThresholds, firing: false },
    { name: 'one PSI above', rows: [drift('temperature', 0.21), drift('score', 0.05)], thresholds: driftThresholds, firing: true },
    { name: 'KS above its threshold', rows: [drift('temperature', 0.1, 0.5)], thresholds: { ...driftThresholds, ks: 0.3 }, firing: true },
    { name: 'a drifting feature not watched', rows: [drift('temperature', 3), drift('score', 0.1)], thresholds: { ...driftThresholds, features: ['score'] }, firing: false },
  ])('drift: $name → $firing', ({ rows, thresholds, firing }) => {
    expect(driftVerdict(rows, thresholds)?.firing).toBe(firing);
  });

  it('drift names what drifted by how much', () => {
    expect(driftVerdict([drift('temperature', 0.4567, 0.5)], { ...driftThresholds, ks: 0.3 })?.message).toBe('drift from the training data over 7 days: temperature (fleet_service v3) PSI 0.457 > 0.2, KS 0.500 > 0.3');
  });

  it.each([
    { name: 'no thresholds set', rows: [performance('2015-02-01', 400, 0.5)], settings: { minRows: 100 }, firing: undefined },
    { name: 'no day with enough ground truth', rows: [performance('2015-02-01', 99, 0.5)], settings: alarms, firing: undefined },
    { name: 'the newest judged day is fine', rows: [performance('2015-02-01', 400, 0.5), performance('2015-02-02', 400, 0.7)], settings: alarms, firing: false },
    { name: 'the newest judged day has a low AUC', rows: [performance('2015-02-02', 400, 0.55), performance('2015-02-01', 400, 0.7), performance('2015-02-03', 10, 0.9)], settings: alarms, firing: true },
    { name: 'a high log loss', rows: [performance('2015-02-01', 400, 0.7, 0.9)], settings: alarms, firing: true },
  ])('performance: $name → $firing', ({ rows, settings, firing }) => {
    expect(performanceVerdict(rows, settings)?.firing).toBe(firing);
  });

  it.each([
    { name: 'too few days to know what is usual', flagged: 0, earlier: [5, 6], firing: undefined },
    { name: 'as usual', flagged: 6, earlier: [5, 6, 4, 7], firing: false },
    { name: 'nothing where there usually is something', flagged: 0, earlier: [5, 6, 4, 7], firing: true },
    { name: 'nothing where there usually is nothing', flagged: 0, earlier: [0, 0, 1], firing: false },
    { name: 'more than 5× the median', flagged: 28, earlier: [5, 6, 4, 7], firing: true },
    { name: 'a few where the median is 0 (counted as 1)', flagged: 5, earlier: [0, 0, 0], firing: false },
  ])('flag rate: $name → $firing', ({ flagged, earlier, firing }) => {
    expect(flagRateVerdict(flagged, earlier, { maxRatio: 5 })?.firing).toBe(firing);
  });

  it.each([
    { name: 'never succeeded', last: null, firing: true },
    { name: 'succeeded 2 h ago', last: new Date('2015-02-01T10:00:00Z'), firing: false },
    { name: 'succeeded 30 h ago', last: new Date('2015-01-31T06:00:00Z'), firing: true },
  ])('stale after 24 h: $name → $firing', ({ last, firing }) => {
    expect(staleVerdict(last, new Date('2015-02-01T12:00:00Z'), 24).firing).toBe(firing);
  });
});

describe('the stale-data alarm in the run store', () => {
  it('fires while no run succeeded for staleHours, once, and resolves after one did', async () => {
    const store = await openStore({ stateDir: await mkdtemp(path.join(os.tmpdir(), 'detour-stale-')) });
    try {
      const { pipelines } = DetourConfigSchema.parse({ pipelines: { watched_rides: { dataset: 'rides', monitor: { alarms: { staleHours: 1 } } } } });
      const check = (at: Date) => checkStaleness({ store }, 'watched_rides', pipelines.watched_rides, at);
      expect(await check(new Date())).toMatchObject({ alarm: 'stale', state: 'firing', message: 'no run has succeeded yet (stale after 1 h)' });
      expect(await check(new Date())).toBeUndefined();
      const run = await store.startRun({ pipeline: 'watched_rides', logicalDate: '2024-01-05', params: {}, lease: { owner: 'test:1', seconds: 30 } });
      await store.finishRun(run.id, { status: 'succeeded', owner: 'test:1' });
      expect(await check(new Date())).toMatchObject({ state: 'resolved' });
      expect(await check(new Date(Date.now() + 2 * 3_600_000))).toMatchObject({ state: 'firing', message: expect.stringMatching(/^no new data for 2\.00 h /) });
      expect(await checkStaleness({ store }, 'rides', DetourConfigSchema.parse({}).pipelines.rides, new Date())).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
