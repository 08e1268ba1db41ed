import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  anomalyScores,
  averagePathLength,
  fitAndScoreIsolationForest,
  fitIsolationForest,
  isolationForestFromJSON,
  isolationForestToJSON,
  outlierLabels,
  scoreSamples,
  type IsolationForestModel,
  type IsolationForestOptions,
} from '../../src/detectors/index.js';
import { InputError } from '../../src/errors.js';
import { FIXTURES, readNumericCsv } from '../helpers/fixtures.js';



/** Seeded uniform columns (a Lehmer generator, independent of the kernel's own). */
function uniformColumns(rows: number, features: number, seed = 1): Float64Array[] {
  let state = seed;
  const next = () => (state = (state * 48271) % 0x7fffffff) / 0x7fffffff;
  return Array.from({ length: features }, () => Float64Array.from({ length: rows }, next));
}

/** Average ranks, ties sharing the mean of their positions. */
function ranks(values: Float64Array): Float64Array {
  const order = Array.from(values.keys()).sort((a, b) => values[a] - values[b]);
  const result = new Float64Array(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    for (let t = i; t <= j; t++) result[order[t]] = (i + j) / 2;
    i = j + 1;
  }
  return result;
}

function spearman(a: Float64Array, b: Float64Array): number {
  const [x, y] = [ranks(a), ranks(b)];
  const mean = (x.length - 1) / 2;
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += (x[i] - mean) * (y[i] - mean);
    xx += (x[i] - mean) ** 2;
    yy += (y[i] - mean) ** 2;
  }
  return xy / Math.sqrt(xx * yy);
}

/** Rows of the k lowest sample scores (the most anomalous). */
function lowestK(scores: Float64Array, k: number): Set<number> {
  return new Set(Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b]).slice(0, k));
}

function overlap(a: Set<number>, b: Set<number>): number {
  return [...a].filter((row) => b.has(row)).length / a.size;
}

/** ROC AUC of "lower sample score = outlier" (Mann–Whitney). */
function rocAuc(sampleScores: Float64Array, isOutlier: Float64Array): number {
  const rank = ranks(sampleScores.map((score) => -score));
  let positives = 0;
  let rankSum = 0;
  isOutlier.forEach((flag, row) => {
    if (flag === 1) {
      positives++;
      rankSum += rank[row] + 1;
    }
  });
  const negatives = isOutlier.length - positives;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('isolation forest parity with scikit-learn (test/fixtures/iforest_2d.csv)', () => {
  const fixture = readNumericCsv('iforest_2d.csv');
  const stats = JSON.parse(readFileSync(new URL('iforest_2d.json', FIXTURES), 'utf8')).rank_stats;
  const features = [fixture.x, fixture.y];
  const reference = fixture.score_mean10;
  const k = stats.top1pct_k as number;
  const referenceTop = lowestK(reference, k);
  const seeds = Array.from({ length: 10 }, (_, seed) => seed);
  const scoresBySeed = seeds.map((seed) => scoreSamples(fitIsolationForest(features, { seed }), features));

  it('ranks rows like sklearn, seed for seed', () => {
    const rhos = scoresBySeed.map((scores) => spearman(scores, reference));
    for (const rho of rhos) expect(rho).toBeGreaterThanOrEqual(0.9);
    expect(median(rhos)).toBeGreaterThanOrEqual(stats.spearman_seed_vs_mean10.median);
    // sklearn's overlaps count its own seed inside mean10, so its median is a little flattered; ours must reach its min.
    const overlaps = scoresBySeed.map((scores) => overlap(lowestK(scores, k), referenceTop));
    expect(median(overlaps)).toBeGreaterThanOrEqual(stats.top1pct_overlap_seed_vs_mean10.min);
  });

  it('averages over seeds to what sklearn averages to', () => {
    const mean = new Float64Array(reference.length);
    for (const scores of scoresBySeed) scores.forEach((score, row) => (mean[row] += score / seeds.length));
    expect(spearman(mean, reference)).toBeGreaterThanOrEqual(0.99);
    expect(overlap(lowestK(mean, k), referenceTop)).toBeGreaterThanOrEqual(stats.top1pct_overlap_seed_vs_mean10.median);
    expect(rocAuc(mean, fixture.is_planted_outlier)).toBeGreaterThanOrEqual(stats.roc_auc_planted_mean10 - 0.005);
  });

  it('finds the planted outliers', () => {
    expect(rocAuc(scoresBySeed[0], fixture.is_planted_outlier)).toBeGreaterThanOrEqual(0.99);
  });
});

describe('fitIsolationForest', () => {
  const columns = uniformColumns(3000, 2);

  it('is deterministic for a seed, and seeds differ', () => {
    const model = fitIsolationForest(columns, { seed: 7 });
    expect(fitIsolationForest(columns, { seed: 7 })).toEqual(model);
    expect(scoreSamples(fitIsolationForest(columns, { seed: 7 }), columns)).toEqual(scoreSamples(model, columns));
    expect(fitIsolationForest(columns, { seed: 8 }).threshold).not.toEqual(model.threshold);
  });

  it('grows trees as sklearn does: depth ceil(log2(maxSamples)), leaves holding the whole subsample', () => {
    const model = fitIsolationForest(columns, { nEstimators: 5, maxSamples: 100 });
    expect(model.treeStart).toHaveLength(6);
    for (let tree = 0; tree < 5; tree++) {
      const depth = new Map([[model.treeStart[tree], 0]]);
      let leafRows = 0;
      for (let node = model.treeStart[tree]; node < model.treeStart[tree + 1]; node++) {
        if (model.feature[node] < 0) leafRows += model.leafSize[node];
        else for (const child of [model.left[node], model.left[node] + 1]) depth.set(child, depth.get(node)! + 1);
      }
      expect(leafRows).toBe(100);
      expect(Math.max(...depth.values())).toBeLessThanOrEqual(Math.ceil(Math.log2(100)));
    }
  });

  it('caps maxSamples at the row count', () => {
    const model = fitIsolationForest(uniformColumns(50, 2), { nEstimators: 3, maxSamples: 256 });
    expect(model.sampleSize).toBe(50);
  });

  it("uses sklearn's offset -0.5 for contamination 'auto'", () => {
    expect(fitIsolationForest(columns).offset).toBe(-0.5);
  });

  it.each([0.01, 0.1, 0.25, 0.5])('labels the contamination share %s of distinct scores as outliers', (contamination) => {
    const { model, sampleScores } = fitAndScoreIsolationForest(columns, { contamination });
    const outliers = outlierLabels(model, sampleScores).filter((label) => label === -1).length;
    // numpy's percentile puts the offset between the scores at positions floor and ceil of q * (n - 1).
    expect(outliers).toBe(Math.floor(contamination * (columns[0].length - 1)) + 1);
  });

  it('splits only on features that vary, and scores all-constant rows -0.5', () => {
    const constant = new Float64Array(500).fill(3);
    const model = fitIsolationForest([constant, columns[0].slice(0, 500)], { nEstimators: 10 });
    for (const feature of model.feature) expect(feature === -1 || feature === 1).toBe(true);

    const flat = fitIsolationForest([constant, constant], { nEstimators: 10 });
    expect(flat.feature.every((feature) => feature === -1)).toBe(true);
    // One leaf of the whole subsample: E[h] = c(256), so every score is -2^-1.
    expect(scoreSamples(flat, [constant, constant]).every((score) => score === -0.5)).toBe(true);
  });

  it('grows each forest afresh, whatever forest was grown before (node room is reused between fits)', () => {
    const earlier = fitIsolationForest(uniformColumns(3000, 3, 9), { nEstimators: 60 });
    expect(earlier.threshold.some((threshold) => threshold !== 0)).toBe(true);
    const constant = new Float64Array(300).fill(2);
    const flat = fitIsolationForest([constant], { nEstimators: 60 });
    expect(flat.threshold.every((threshold) => threshold === 0)).toBe(true);
    const model = fitIsolationForest(columns, { nEstimators: 20 });
    model.feature.forEach((feature, node) => {
      if (feature < 0) expect([model.threshold[node], model.left[node]]).toEqual([0, -1]);
      else expect(model.leafSize[node]).toBe(0);
    });
  });

  const bad: [string, Float64Array[], IsolationForestOptions, RegExp][] = [
    ['no features', [], {}, /expected 1 to 32767 feature columns, got 0/],
    ['mismatched lengths', [new Float64Array(5), new Float64Array(4)], {}, /feature 1 has 4 values but feature 0 has 5/],
    ['a NaN', [Float64Array.of(1, NaN, 3)], {}, /feature 0 has a non-finite value \(NaN\) at row 1/],
    ['an infinity', [Float64Array.of(1, 2, -Infinity)], {}, /feature 0 has a non-finite value \(-Infinity\) at row 2/],
    ['one row', [Float64Array.of(1)], {}, /needs at least 2 rows to fit, got 1/],
    ['zero trees', [columns[0]], { nEstimators: 0 }, /nEstimators must be a whole number >= 1, got 0/],
    ['fractional trees', [columns[0]], { nEstimators: 2.5 }, /nEstimators must be a whole number >= 1, got 2.5/],
    ['maxSamples 1', [columns[0]], { maxSamples: 1 }, /maxSamples must be a whole number >= 2, got 1/],
    ['a negative seed', [columns[0]], { seed: -1 }, /seed must be a whole number in 0..4294967295, got -1/],
    ['a huge seed', [columns[0]], { seed: 2 ** 32 }, /seed must be a whole number in 0..4294967295/],
    ['contamination 0', [columns[0]], { contamination: 0 }, /contamination must be 'auto' or a number in \(0, 0.5\], got 0/],
    ['contamination 0.6', [columns[0]], { contamination: 0.6 }, /contamination must be 'auto' or a number in \(0, 0.5\], got 0.6/],
    ['contamination "0.1"', [columns[0]], { contamination: '0.1' as never }, /contamination must be 'auto' or a number/],
  ];
  it.each(bad)('rejects %s', (_, badColumns, options, message) => {
    expect(() => fitIsolationForest(badColumns, options)).toThrow(InputError);
    expect(() => fitIsolationForest(badColumns, options)).toThrow(message);
  });
});

describe('the WebAssembly kernels', () => {
  it('run the bytes assembled from grow.wat and walk.wat (grow-wasm.ts and walk-wasm.ts are up to date)', () => {
    const kernels = ['src/detectors/isolation-forest/grow.wat', 'src/detectors/isolation-forest/walk.wat'];
    expect(() => execFileSync(process.execPath, ['scripts/assemble-wasm.mjs', '--check', ...kernels], { stdio: 'pipe' })).not.toThrow();
  });

  it('grow the forest a seed always grew (drawn as SeededRandom draws; recorded from the JavaScript grower it replaced)', () => {
    const model = fitIsolationForest(uniformColumns(300, 3, 5), { nEstimators: 4, maxSamples: 64, seed: 4_000_000_000 });
    expect(model.treeStart).toEqual(Int32Array.of(0, 45, 124, 195, 250));
    expect(model.feature.slice(0, 8)).toEqual(Int16Array.of(1, 1, 0, 0, 2, -1, 2, 0));
    expect(model.threshold.slice(0, 8)).toEqual(
      Float64Array.of(0.06613239697871566, 0.039317106072706984, 0.6234708853288752, 0.15860826406674278, 0.026851949434869477, 0, 0.3195435237240782, 0.7043607383399613),
    );
    expect(model.leafSize.reduce((sum, size) => sum + size, 0)).toBe(4 * 64);
  });
});

describe('averagePathLength', () => {
  it.each([
    [0, 0],
    [1, 0],
    [2, 1],
    [3, 1.207392357589623],
    [4, 1.8516559071392855],
    [10, 3.748880484475505],
    [256, 10.244770920119917],
    [100_000, 22.180282259643523],
  ])('c(%i) = %f as in sklearn', (n, expected) => {
    expect(averagePathLength(n)).toBeCloseTo(expected, 12);
  });
});

describe('scoring', () => {
  it.each([1, 2, 3, 5])('gives the same bits by table lookup (many rows) as by walking trees (few rows), %i features', (featureCount) => {
    const columns = uniformColumns(20_000, featureCount, featureCount);
    const model = fitIsolationForest(columns, { nEstimators: 20, seed: featureCount });
    const all = scoreSamples(model, columns);
    for (const row of [0, 1, 4_321, 19_999]) {
      expect(scoreSamples(model, columns.map((column) => column.slice(row, row + 1)))[0]).toBe(all[row]);
    }
  });

  it('gives the same bits to a row walked alone as among 20,000 rows walked a chunk at a time', () => {
    // Twelve features: too many for lookup tables, and rows of that width are walked ~9,000 at a time.
    const columns = uniformColumns(20_000, 12, 7);
    const model = fitIsolationForest(columns, { nEstimators: 10, seed: 3 });
    const all = scoreSamples(model, columns);
    for (const row of [0, 9_361, 9_362, 18_724, 19_999]) {
      expect(scoreSamples(model, columns.map((column) => column.slice(row, row + 1)))[0]).toBe(all[row]);
    }
  });

  it('sends rows exactly at a threshold left, by lookup as by walking', () => {
    const columns = uniformColumns(2000, 1);
    const model = fitIsolationForest(columns, { nEstimators: 30 });
    const thresholds = model.threshold.filter((_, node) => model.feature[node] >= 0);
    const byLookup = scoreSamples(model, [thresholds]);
    for (let i = 0; i < thresholds.length; i += 97) {
      expect(scoreSamples(model, [thresholds.slice(i, i + 1)])[0]).toBe(byLookup[i]);
    }
  });

  it('anomalyScores is the paper score, -scoreSamples in (0, 1], and labels follow the offset', () => {
    const columns = uniformColumns(1000, 2);
    const fitted = fitAndScoreIsolationForest(columns, { contamination: 0.05 });
    expect(fitted.model).toEqual(fitIsolationForest(columns, { contamination: 0.05 }));
    expect(fitted.sampleScores).toEqual(scoreSamples(fitted.model, columns));
    const anomaly = anomalyScores(fitted.model, columns);
    anomaly.forEach((score, row) => expect(score).toBe(-fitted.sampleScores[row]));
    expect(Math.min(...anomaly)).toBeGreaterThan(0);
    expect(Math.max(...anomaly)).toBeLessThanOrEqual(1);
    outlierLabels(fitted.model, fitted.sampleScores).forEach((label, row) =>
      expect(label).toBe(fitted.sampleScores[row] < fitted.model.offset ? -1 : 1),
    );
  });

  it('scores no rows, and rejects columns that do not fit the model', () => {
    const model = fitIsolationForest(uniformColumns(100, 2), { nEstimators: 5 });
    expect(scoreSamples(model, [new Float64Array(0), new Float64Array(0)])).toHaveLength(0);
    expect(() => scoreSamples(model, uniformColumns(10, 3))).toThrow(/the model was fitted on 2 features, got 3/);
    expect(() => scoreSamples(model, [Float64Array.of(1), Float64Array.of(NaN)])).toThrow(/feature 1 has a non-finite value/);
  });
});

describe('model JSON', () => {
  const columns = uniformColumns(2000, 2);
  const model = fitIsolationForest(columns, { nEstimators: 10, contamination: 0.1 });
  const json = () => JSON.parse(JSON.stringify(isolationForestToJSON(model))) as Record<string, unknown>;

  it('round-trips exactly', () => {
    const restored = isolationForestFromJSON(json());
    expect(restored).toEqual(model);
    expect(scoreSamples(restored, columns)).toEqual(scoreSamples(model, columns));
  });

  const corrupt: [string, (value: Record<string, unknown>) => unknown, RegExp][] = [
    ['not an object', () => 'model', /expected an object/],
    ['another kind', (value) => ({ ...value, kind: 'dbscan' }), /expected kind "isolation-forest" version 1, got kind "dbscan"/],
    ['a missing offset', ({ offset: _, ...value }) => value, /offset must be a finite number, got undefined/],
    ['a bad sampleSize', (value) => ({ ...value, sampleSize: 1 }), /sampleSize must be a whole number in 2\.\./],
    ['a feature out of range', (value) => ({ ...value, feature: (value.feature as number[]).map((f) => (f === 1 ? 2 : f)) }), /feature must be an array of valid numbers/],
    ['a string threshold', (value) => ({ ...value, threshold: (value.threshold as number[]).map(String) }), /threshold must be an array of valid numbers/],
    ['a child before its parent', (value) => ({ ...value, left: (value.left as number[]).map((child, node) => (node === 0 ? 0 : child)) }), /split node 0 is malformed/],
    ['a child in the next tree', (value) => ({ ...value, left: (value.left as number[]).map((child, node) => (node === 0 ? (value.treeStart as number[])[1] : child)) }), /split node 0 is malformed/],
    ['short arrays', (value) => ({ ...value, leafSize: (value.leafSize as number[]).slice(1) }), /node arrays differ in length/],
    ['trees deeper than their sample grows', (value) => ({ ...value, sampleSize: 4 }), /tree 0 is deeper than the 2 levels a sample of 4 grows/],
    ['trees not spanning the nodes', (value) => ({ ...value, treeStart: (value.treeStart as number[]).slice(0, -1) }), /treeStart does not span the nodes/],
  ];
  it.each(corrupt)('rejects %s', (_, damage, message) => {
    expect(() => isolationForestFromJSON(damage(json()))).toThrow(InputError);
    expect(() => isolationForestFromJSON(damage(json()))).toThrow(message);
  });

  it('is plain typed-array data', () => {
    const fields: (keyof IsolationForestModel)[] = ['treeStart', 'feature', 'threshold', 'left', 'leafSize'];
    expect(fields.map((field) => model[field].constructor.name)).toEqual(['Int32Array', 'Int16Array', 'Float64Array', 'Int32Array', 'Int32Array']);
  });
});
