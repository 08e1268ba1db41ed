import { describe, expect, it } from 'vitest';
import { holdOut, trainableDetector, TRAINABLE_DETECTORS, type FeatureRows } from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { SeededRandom } from '../../src/random.js';

/** Daily lateness (minutes) and departures of one route: `days` normal days from `start` on, then `drift` added from day `driftFrom`. */
function route(days: number, options: { seed?: number; drift?: number; driftFrom?: number } = {}): FeatureRows {
  const random = new SeededRandom(options.seed ?? 1);
  const late = new Float64Array(days);
  const departures = new Float64Array(days);
  for (let day = 0; day < days; day++) {
    late[day] = 4 + random.normal() + (day >= (options.driftFrom ?? days) ? (options.drift ?? 0) : 0);
    departures[day] = 120 + Math.round(random.normal() * 5);
  }
  return { features: ['avg_late', 'departures'], columns: [late, departures], timestampsMs: dailyTimes(days) };
}

/** Midnight (UTC) of `days` days from 2024-01-01. */
function dailyTimes(days: number): Float64Array {
  return Float64Array.from({ length: days }, (_, day) => Date.UTC(2024, 0, 1 + day));
}

describe('trainable detectors', () => {
  const iforest = trainableDetector('iforest');
  const params = iforest.params.parse({ trees: 100, contamination: 0.05 });

  it('lists Isolation Forest and names the known ones for an unknown detector', () => {
    expect(TRAINABLE_DETECTORS).toContain('iforest');
    expect(() => trainableDetector('dbscan')).toThrow(new InputError('"dbscan" is not a trainable detector (trainable: iforest, autoencoder)'));
  });

  it('holds out the most recent rows for validation', () => {
    const { training, validation } = holdOut(route(10), 0.2);
    expect(training.columns[0]).toHaveLength(8);
    expect(validation.columns[0]).toEqual(route(10).columns[0].subarray(8));
    expect(holdOut(route(2), 0.01).validation.columns[0]).toHaveLength(1);
  });

  it('fits an entity’s model whose JSON artifact scores like the model itself: a lateness spike is anomalous, usual days are not', () => {
    const { training, validation } = holdOut(route(90), 0.2);
    const fitted = iforest.fit(training, validation, params);
    if ('skipped' in fitted) throw new Error(fitted.skipped);
    expect(fitted.metrics).toMatchObject({ training_rows: 72, validation_rows: 18 });
    expect(fitted.metrics.validation_loss).toBeGreaterThan(0.3);
    expect(fitted.metrics.validation_loss).toBeLessThan(0.5);
    const model = iforest.load(JSON.parse(JSON.stringify(fitted.artifact)));
    const today: FeatureRows = { features: ['avg_late', 'departures'], columns: [Float64Array.of(4.2, 45, Number.NaN), Float64Array.of(121, 118, 120)], timestampsMs: dailyTimes(3) };
    const scores = iforest.score(model, today);
    expect(Array.from(scores.anomalous)).toEqual([0, 1, 0]);
    expect(scores.score[1]).toBeGreaterThan(scores.score[0]);
    expect(scores.score[2]).toBeNaN();
    expect(scores.lower[1]).toBeLessThan(scores.expected[1]);
    expect(scores.expected[1]).toBeCloseTo(4, 0);
    expect(scores.upper[1]).toBeLessThan(6);
  });

  it('validates worse when the held-out days drifted away from the training days', () => {
    const stable = holdOut(route(90), 0.2);
    const drifted = holdOut(route(90, { drift: 6, driftFrom: 75 }), 0.2);
    const good = iforest.fit(stable.training, stable.validation, params);
    const worse = iforest.fit(drifted.training, drifted.validation, params);
    if ('skipped' in good || 'skipped' in worse) throw new Error('skipped');
    expect(worse.metrics.validation_loss).toBeGreaterThan(good.metrics.validation_loss + 0.05);
  });

  it('skips an entity with too few complete rows, and refuses malformed params and artifacts', () => {
    const { training, validation } = holdOut({ features: ['x'], columns: [Float64Array.of(1, Number.NaN, 3)], timestampsMs: dailyTimes(3) }, 0.3);
    expect(iforest.fit(training, validation, params)).toEqual({ skipped: '1 complete training rows, too few to fit' });
    expect(() => iforest.params.parse({ trees: 0 })).toThrow(/trees/);
    expect(() => iforest.params.parse({ tres: 10 })).toThrow(/tres/);
    expect(() => iforest.load({ forest: { kind: 'isolation-forest' }, usual: {} })).toThrow(InputError);
    expect(() => iforest.load('{')).toThrow(/expected an object/);
  });
});
