import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { TrainableDetector } from '../../src/detectors/index.js';
import { promotionDecision, type LoadedModel } from '../../src/pipeline/index.js';
import { labelledIncidentsByDate } from '../../src/pipeline/labelled-incidents.js';
import { detectWithModels } from '../../src/pipeline/series-detect.js';
import { SeededRandom } from '../../src/random.js';
import type { ModelVersion } from '../../src/store/index.js';

describe('the promotion rule', () => {
  const production = (loss: number | undefined, detector = 'iforest') => ({ version: 3, detector, metrics: (loss === undefined ? {} : { validation_loss: loss }) as Record<string, number> });
  it.each([
    ['manual never promotes', 'manual', 0.1, production(0.5), false, 'candidate (promote: manual)'],
    ['auto promotes the first version', 'auto', 0.4, null, true, 'auto: no production version before'],
    ['auto promotes a better version', 'auto', 0.4, production(0.5), true, "auto: validation_loss 0.4000 vs production v3's 0.5000"],
    ['auto promotes an equal version', 'auto', 0.5, production(0.5), true, "auto: validation_loss 0.5000 vs production v3's 0.5000"],
    ['auto refuses a worse version', 'auto', 0.6, production(0.5), false, "not promoted: worse validation_loss 0.6000 vs production v3's 0.5000"],
    ['auto refuses a loss it cannot read', 'auto', Number.NaN, null, false, 'not promoted: validation_loss is NaN'],
    ['auto refuses when production has no loss', 'auto', 0.4, production(undefined), false, 'not promoted: production v3 has no validation_loss to compare with'],
    ['auto refuses over another detector', 'auto', 0.1, production(0.5, 'autoencoder'), false, 'not promoted: production v3 was trained with autoencoder'],
  ] as const)('%s', (_, policy, loss, current, promote, reason) => {
    expect(promotionDecision(policy, 'iforest', { validation_loss: loss }, current)).toEqual({ promote, reason });
  });
});

describe('scoring with registered models', () => {
  /** Calls a row anomalous above 10, expecting 5 (4–6). */
  const threshold: TrainableDetector<unknown, unknown, number> = {
    name: 'threshold',
    params: z.unknown(),
    fit: () => ({ skipped: 'not trained here' }),
    load: () => 10,
    score: (limit, rows) => {
      const [values] = rows.columns;
      const constant = (value: number) => new Float64Array(values.length).fill(value);
      return { score: values.map((value) => Math.min(1, value / 100)), anomalous: Uint8Array.from(values, (value) => (value > limit ? 1 : 0)), expected: constant(5), lower: constant(4), upper: constant(6) };
    },
  };
  const loaded = (entity: string, version: number): LoadedModel => ({ record: { name: `m/${entity}`, version } as ModelVersion, detector: threshold as TrainableDetector, model: 10, features: ['speed'], bytes: 1 });

  it('finds one anomaly per entity and day, the worst row of it, naming the version; entities without one are skipped', () => {
    const table = {
      entity: ['S1', 'S1', 'S1', 'S1', 'S2', 'S3'],
      day: ['2024-01-01', '2024-01-01', '2024-01-01', '2024-01-02', '2024-01-01', '2024-01-01'],
      timeMs: Float64Array.from([0, 60_000, 120_000, 86_400_000, 0, 0], (offset) => Date.UTC(2024, 0, 1) + offset),
      values: { speed: Float64Array.of(12, 30, 4, 5, 50, 99) },
    };
    const detection = detectWithModels({ detector: 'threshold', features: ['speed'] }, table, new Map([['S1', loaded('S1', 2)], ['S2', loaded('S2', 1)]]), { reason: (entity) => `no model for ${entity}`, shallow: false });
    expect(detection.skipped).toEqual([{ entity: 'S3', reason: 'no model for S3' }]);
    expect(detection.findings).toEqual([
      { detector: 'threshold', entity: 'S1', date: '2024-01-01', value: 30, expected: 5, lower: 4, upper: 6, score: 0.3, reason: 'threshold score 0.30: speed 30.0 (usual for S1 4.0–6.0) (the worst of 2 anomalous rows that day); model m/S1 v2', model: { name: 'm/S1', version: 2 } },
      { detector: 'threshold', entity: 'S2', date: '2024-01-01', value: 50, expected: 5, lower: 4, upper: 6, score: 0.5, reason: 'threshold score 0.50: speed 50.0 (usual for S2 4.0–6.0); model m/S2 v1', model: { name: 'm/S2', version: 1 } },
    ]);
  });
});

describe('scoring an entity without a model', () => {
  it('uses the shallow model when the step falls back to it: one finding on the day of a burst, saying why', () => {
    const random = new SeededRandom(4);
    const start = Date.UTC(2024, 0, 1);
    const minutes = 1440;
    const speed = Float64Array.from({ length: minutes }, (_, minute) => 50 + 10 * Math.sin((2 * Math.PI * minute) / minutes) + random.normal());
    speed.fill(95, 700, 703);
    const table = { entity: new Array<string>(minutes).fill('S3'), day: new Array<string>(minutes).fill('2024-01-01'), timeMs: Float64Array.from({ length: minutes }, (_, minute) => start + minute * 60_000), values: { speed } };
    const { findings, skipped } = detectWithModels({ detector: 'autoencoder', features: ['speed'] }, table, new Map(), { reason: (entity) => `no model for ${entity}`, shallow: true });
    expect(skipped).toEqual([]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ detector: 'shallow', entity: 'S3', date: '2024-01-01', value: 95, lower: null, upper: null });
    expect(findings[0].reason).toMatch(/^shallow score 0\.\d\d: speed 95\.0 \(the worst of \d+ anomalous rows that day\); shallow model: no model for S3$/);
    expect(findings[0].model).toBeUndefined();
  });
});

describe('labelled incidents', () => {
  it('counts a run of rows of one entity and kind as one incident, on the date of its first row, found by any flagged row', () => {
    const table = {
      entity: ['A', 'A', 'A', 'A', 'A', 'B', 'B', 'B'],
      day: ['2024-01-01', '2024-01-01', '2024-01-02', '2024-01-02', '2024-01-02', '2024-01-01', '2024-01-01', '2024-01-01'],
      timeMs: new Float64Array(8),
      values: {},
      labelledKind: [null, 'spike', 'spike', null, 'drop', 'drop', 'spike', null],
    };
    const flagged = Uint8Array.of(1, 0, 1, 0, 0, 1, 0, 1);
    expect(Object.fromEntries(labelledIncidentsByDate(table, flagged))).toEqual({
      '2024-01-01': { by_kind: { spike: { incidents: 2, found: 1, rows: 3, flagged_rows: 1 }, drop: { incidents: 1, found: 1, rows: 1, flagged_rows: 1 } }, normal_rows: 2, flagged_normal_rows: 2 },
      '2024-01-02': { by_kind: { drop: { incidents: 1, found: 0, rows: 1, flagged_rows: 0 } }, normal_rows: 1, flagged_normal_rows: 0 },
    });
  });
});
