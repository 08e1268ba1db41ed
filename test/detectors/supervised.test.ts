import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  brierScore,
  calibrationTable,
  featureColumns,
  fitSupervised,
  holdOutLabelled,
  logLoss,
  rocAuc,
  rowProblem,
  supervisedModel,
  type LabelledRows,
  type LogisticModel,
} from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { SeededRandom } from '../../src/random.js';
import { FIXTURES, readNumericCsv } from '../helpers/fixtures.js';

interface ReferenceFit {
  coef_scaled: number[];
  intercept_scaled: number;
  coef_original_units: number[];
  intercept_original_units: number;
  probe_rows: number[][];
  probe_probabilities: number[];
}
const reference = JSON.parse(readFileSync(new URL('logistic_fleet.json', FIXTURES), 'utf8')) as { features: string[]; label: string; fits: { l2_C1: ReferenceFit; none: ReferenceFit } };

function fleetRows(): LabelledRows {
  const csv = readNumericCsv('logistic_fleet.csv');
  return { features: reference.features, columns: reference.features.map((feature) => csv[feature]), labels: Uint8Array.from(csv[reference.label]) };
}

/** Rides whose service requests depend on temperature in a U shape (cold and heat both wear vehicles), which no straight line in the features can follow. */
function uShapedRides(count: number, seed: number): LabelledRows {
  const random = new SeededRandom(seed);
  const temperature = new Float64Array(count);
  const precipitation = new Float64Array(count);
  const mileage = new Float64Array(count);
  const labels = new Uint8Array(count);
  for (let row = 0; row < count; row++) {
    temperature[row] = random.uniform(-20, 40);
    precipitation[row] = random.next() < 0.6 ? 0 : random.uniform(0, 30);
    mileage[row] = random.uniform(0, 120);
    const logOdds = -3 + ((temperature[row] - 10) / 12) ** 2 + 0.01 * mileage[row];
    labels[row] = random.next() < 1 / (1 + Math.exp(-logOdds)) ? 1 : 0;
  }
  return { features: ['temperature', 'precipitation', 'mileage'], columns: [temperature, precipitation, mileage], labels };
}

describe('logistic regression', () => {
  const logistic = supervisedModel('logistic');

  it.each([
    ['L2 with C = 1', { l2: 1 }, reference.fits.l2_C1],
    ['no penalty', { l2: 0 }, reference.fits.none],
  ] as const)('matches scikit-learn’s fit (%s) to 1e-4: coefficients, intercept and probabilities', (_, params, expected) => {
    const artifact = logistic.fit(fleetRows(), logistic.params.parse(params)) as { intercept: number; coefficients: number[]; converged: boolean };
    expect(artifact.converged).toBe(true);
    expect(Math.abs(artifact.intercept - expected.intercept_scaled)).toBeLessThan(1e-4);
    artifact.coefficients.forEach((coefficient, k) => expect(Math.abs(coefficient - expected.coef_scaled[k])).toBeLessThan(1e-4));
    const model = logistic.load(JSON.parse(JSON.stringify(artifact))) as LogisticModel;
    expect(Math.abs(model.intercept - expected.intercept_original_units)).toBeLessThan(1e-4);
    model.coefficients.forEach((coefficient, k) => expect(Math.abs(coefficient - expected.coef_original_units[k])).toBeLessThan(1e-4));
    const probes = reference.features.map((_, k) => Float64Array.from(expected.probe_rows, (row) => row[k]));
    logistic.predictProbability(model, probes).forEach((probability, row) => expect(Math.abs(probability - expected.probe_probabilities[row])).toBeLessThan(1e-4));
  });

  it('refuses a malformed artifact with one line naming the field', () => {
    expect(() => logistic.load({ kind: 'logistic', mean: [0], scale: [0], intercept: 0, coefficients: [1], l2: 1, iterations: 1, converged: true })).toThrow(new InputError('logistic artifact: scale.0: must be positive'));
    expect(() => logistic.load({ kind: 'gbdt' })).toThrow(InputError);
    expect(() => logistic.params.parse({ l2: -1 })).toThrow(/l2/);
  });
});

describe('gradient-boosted trees', () => {
  const gbdt = supervisedModel('gbdt');
  const logistic = supervisedModel('logistic');

  it('beats logistic regression on ROC AUC when the outcome is not linear in the features', () => {
    const { training, validation } = holdOutLabelled(uShapedRides(20_000, 3), 0.25);
    const trees = fitSupervised(gbdt, training, validation, gbdt.params.parse({}));
    const line = fitSupervised(logistic, training, validation, logistic.params.parse({}));
    if ('skipped' in trees || 'skipped' in line) throw new Error('skipped');
    expect(trees.metrics.validation_auc).toBeGreaterThan(0.75);
    expect(trees.metrics.validation_auc).toBeGreaterThan((line.metrics.validation_auc as number) + 0.15);
    expect(trees.metrics.validation_loss).toBeLessThan(line.metrics.validation_loss);
  });

  it('is deterministic: the same rows give the same trees, and the stored trees predict what was measured', () => {
    const rows = uShapedRides(3_000, 8);
    const params = gbdt.params.parse({ rounds: 20, depth: 3 });
    const first = JSON.stringify(gbdt.fit(rows, params));
    expect(JSON.stringify(gbdt.fit(rows, params))).toBe(first);
    const model = gbdt.load(JSON.parse(first));
    expect(Array.from(gbdt.predictProbability(model, rows.columns))).toEqual(Array.from(gbdt.predictProbability(gbdt.load(JSON.parse(first)), rows.columns)));
  });

  it('splits between observed values: unseen values go to the nearer side', () => {
    const values = Float64Array.from({ length: 400 }, (_, row) => (row % 2 === 0 ? 4 : 6));
    const rows: LabelledRows = { features: ['x'], columns: [values], labels: Uint8Array.from(values, (value) => (value > 5 ? 1 : 0)) };
    const model = gbdt.load(gbdt.fit(rows, gbdt.params.parse({ rounds: 50, learningRate: 0.3 })));
    const [low, justBelow, justAbove, high] = gbdt.predictProbability(model, [Float64Array.of(4, 4.9, 5.1, 6)]);
    expect(low).toBeLessThan(0.05);
    expect(justBelow).toBe(low);
    expect(justAbove).toBe(high);
    expect(high).toBeGreaterThan(0.95);
  });

  it('refuses a tree that points back to an earlier node, and unknown params', () => {
    const tree = { feature: [0, -1, -1], threshold: [1, 0, 0], left: [0, -1, -1], value: [0, 0.1, -0.1] };
    expect(() => gbdt.load({ kind: 'gbdt', features: 1, base_score: 0, trees: [tree] })).toThrow(new InputError('gbdt artifact: trees.0: a split node must point to later nodes'));
    expect(() => gbdt.params.parse({ trees: 10 })).toThrow(/trees/);
  });
});

describe('fitting and measuring any supervised model', () => {
  const logistic = supervisedModel('logistic');

  it('validates on the most recent rows and stores the metrics promotion and people read', () => {
    const rows = fleetRows();
    const { training, validation } = holdOutLabelled(rows, 0.2);
    expect(training.labels).toHaveLength(4000);
    expect(validation.labels).toEqual(rows.labels.subarray(4000));
    const fitted = fitSupervised(logistic, training, validation, logistic.params.parse({}));
    if ('skipped' in fitted) throw new Error(fitted.skipped);
    expect(fitted.metrics).toMatchObject({ training_rows: 4000, validation_rows: 1000, validation_loss: fitted.metrics.validation_log_loss });
    expect(fitted.metrics.validation_auc).toBeGreaterThan(0.6);
    expect(fitted.calibration.reduce((sum, bin) => sum + bin.rows, 0)).toBe(1000);
  });

  it('skips training rows of one outcome, with why', () => {
    const rows: LabelledRows = { features: ['x'], columns: [Float64Array.of(1, 2, 3, 4)], labels: Uint8Array.of(0, 0, 0, 1) };
    const { training, validation } = holdOutLabelled(rows, 0.25);
    expect(fitSupervised(logistic, training, validation, logistic.params.parse({}))).toEqual({ skipped: 'all 3 training rows have outcome 0: nothing to tell apart' });
  });
});

describe('metrics against hand-computed cases', () => {
  it('ROC AUC counts ties as half a correct ordering', () => {
    expect(rocAuc(Uint8Array.of(0, 0, 1, 1), Float64Array.of(0.1, 0.4, 0.35, 0.8))).toBe(0.75);
    // Positives 0.5 and 0.9 against negatives 0.5 and 0.2: 0.5 (tie) + 1 + 1 + 1 of 4 pairs.
    expect(rocAuc(Uint8Array.of(0, 1, 0, 1), Float64Array.of(0.5, 0.5, 0.2, 0.9))).toBe(0.875);
    expect(rocAuc(Uint8Array.of(1, 0, 1, 0), Float64Array.of(0.3, 0.3, 0.3, 0.3))).toBe(0.5);
    expect(rocAuc(Uint8Array.of(1, 1), Float64Array.of(0.2, 0.9))).toBeNaN();
  });

  it('log loss and Brier score', () => {
    const labels = Uint8Array.of(1, 0, 1);
    const probabilities = Float64Array.of(0.8, 0.3, 0.5);
    expect(logLoss(labels, probabilities)).toBeCloseTo(-(Math.log(0.8) + Math.log(0.7) + Math.log(0.5)) / 3, 15);
    expect(brierScore(labels, probabilities)).toBeCloseTo((0.04 + 0.09 + 0.25) / 3, 15);
    // A certain mistake costs much, not infinity.
    expect(logLoss(Uint8Array.of(1), Float64Array.of(0))).toBeCloseTo(-Math.log(1e-15), 10);
  });

  it('the calibration table bins by probability, leaves empty bins out and puts 1 in the last bin', () => {
    const table = calibrationTable(Uint8Array.of(0, 1, 0, 1, 1), Float64Array.of(0.05, 0.15, 0.12, 0.95, 1), 10);
    expect(table).toEqual([
      { from: 0, to: 0.1, rows: 1, mean_probability: 0.05, observed_rate: 0 },
      { from: 0.1, to: 0.2, rows: 2, mean_probability: 0.135, observed_rate: 0.5 },
      { from: 0.9, to: 1, rows: 2, mean_probability: 0.975, observed_rate: 1 },
    ]);
  });
});

describe('what a model accepts', () => {
  const contract = { features: ['temperature', 'precipitation', 'mileage'], ranges: { temperature: { min: -60, max: 60 }, mileage: { min: 0 } } };

  it('takes rows of exactly its features as columns', () => {
    expect(featureColumns(contract, [{ mileage: 40, temperature: 12, precipitation: 0 }, { temperature: -60, precipitation: 3.5, mileage: 0 }])).toEqual([Float64Array.of(12, -60), Float64Array.of(0, 3.5), Float64Array.of(40, 0)]);
  });

  it.each([
    ['an unknown feature', [{ temperature: 1, precipitation: 0, mileage: 1, humidity: 3 }], 'unknown feature "humidity" (the model takes temperature, precipitation, mileage)'],
    ['a missing feature', [{ temperature: 1, precipitation: 0 }], 'missing feature "mileage" (the model takes temperature, precipitation, mileage)'],
    ['a string', [{ temperature: '20', precipitation: 0, mileage: 1 }], 'temperature must be a number, got string "20"'],
    ['null', [{ temperature: null, precipitation: 0, mileage: 1 }], 'temperature must be a number, got null'],
    ['NaN', [{ temperature: Number.NaN, precipitation: 0, mileage: 1 }], 'temperature must be a finite number, got NaN'],
    ['a temperature out of range', [{ temperature: 75, precipitation: 0, mileage: 1 }], 'temperature must be within -60..60, got 75'],
    ['negative mileage, in the second row of two', [{ temperature: 1, precipitation: 0, mileage: 1 }, { temperature: 1, precipitation: 0, mileage: -3 }], 'rows[1]: mileage must be >= 0, got -3'],
    ['a row that is no object', [[1, 2, 3]], 'expected an object of features (the model takes temperature, precipitation, mileage), got array [1,2,3]'],
  ])('refuses %s with one line', (_, rows, message) => {
    expect(() => featureColumns(contract, rows)).toThrow(new InputError(message));
  });

  it('names why a typed row cannot be used, without its value so that such rows count together', () => {
    const columns = [Float64Array.of(10, Number.NaN, 99), Float64Array.of(0, 0, 0), Float64Array.of(5, 5, 5)];
    expect([0, 1, 2].map((row) => rowProblem(contract, columns, row))).toEqual([undefined, 'temperature missing', 'temperature must be within -60..60']);
  });
});
