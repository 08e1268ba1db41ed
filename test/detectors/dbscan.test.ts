import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dbscan, nearestCoreDistance, standardScale } from '../../src/detectors/index.js';
import { SeededRandom } from '../../src/random.js';
import { FIXTURES, readNumericCsv } from '../helpers/fixtures.js';


interface FixtureMeta {
  eps: number;
  min_samples: number;
  n: number;
  n_clusters: number;
  n_noise: number;
  n_core: number;
  scaler?: { mean: number[]; scale: number[] };
}
const fixturesJson = readFileSync(new URL('dbscan_fixtures.json', FIXTURES), 'utf8');
const fixtureMeta: Record<string, FixtureMeta> = JSON.parse(fixturesJson).files;


/** sklearn's rule, straight from its definition, O(n^2): the oracle for generated cases. */
function bruteForceDbscan(columns: Float64Array[], eps: number, minSamples: number) {
  const n = columns[0].length;
  const within = (a: number, b: number) => {
    let sum = 0;
    for (const column of columns) sum += (column[a] - column[b]) * (column[a] - column[b]);
    return sum <= eps * eps;
  };
  const neighbours = Array.from({ length: n }, (_, a) => [...Array(n).keys()].filter((b) => within(a, b)));
  const isCore = Uint8Array.from(neighbours, (list) => (list.length >= minSamples ? 1 : 0));
  const labels = new Int32Array(n).fill(-1);
  let clusterCount = 0;
  for (let seed = 0; seed < n; seed++) {
    if (!isCore[seed] || labels[seed] >= 0) continue;
    const stack = [seed];
    labels[seed] = clusterCount;
    while (stack.length > 0) {
      for (const b of neighbours[stack.pop()!]) {
        if (isCore[b] && labels[b] < 0) {
          labels[b] = clusterCount;
          stack.push(b);
        }
      }
    }
    clusterCount++;
  }
  for (let a = 0; a < n; a++) {
    if (isCore[a]) continue;
    const adjacent = neighbours[a].filter((b) => isCore[b]).map((b) => labels[b]);
    if (adjacent.length > 0) labels[a] = Math.min(...adjacent);
  }
  return { labels, isCore, clusterCount };
}

/** Gaussian blobs plus uniform noise, `dims` features. */
function blobs(count: number, dims: number, seed: number): Float64Array[] {
  const random = new SeededRandom(seed);
  const centres = Array.from({ length: 4 }, () => Array.from({ length: dims }, () => random.next() * 10 - 5));
  const columns = Array.from({ length: dims }, () => new Float64Array(count));
  for (let row = 0; row < count; row++) {
    const noise = random.next() < 0.1;
    const centre = centres[Math.floor(random.next() * centres.length)];
    for (let k = 0; k < dims; k++) {
      const gaussian = Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
      columns[k][row] = noise ? random.next() * 14 - 7 : centre[k] + 0.6 * gaussian;
    }
  }
  return columns;
}

function concat(a: Float64Array[], b: Float64Array[]): Float64Array[] {
  return a.map((column, k) => Float64Array.from([...column, ...b[k]]));
}

function noiseMask(labels: Int32Array): Uint8Array {
  return Uint8Array.from(labels, (label) => (label === -1 ? 1 : 0));
}

describe('dbscan parity with scikit-learn fixtures', () => {
  it.each(['dbscan_2d_small.csv', 'dbscan_2d_medium.csv'])('%s: labels, core flags and noise exactly', (file) => {
    const meta = fixtureMeta[file];
    const data = readNumericCsv(file);
    const result = dbscan([data.x, data.y], { eps: meta.eps, minSamples: meta.min_samples });

    expect(result.isCore).toEqual(Uint8Array.from(data.is_core));
    expect(noiseMask(result.labels)).toEqual(noiseMask(Int32Array.from(data.sklearn_label)));
    expect(result.labels).toEqual(Int32Array.from(data.sklearn_label));
    expect(result.clusterCount).toBe(meta.n_clusters);
    expect(result.isCore.reduce((sum, flag) => sum + flag, 0)).toBe(meta.n_core);
  });

  it('dbscan_rides_5k.csv: standardScale matches the sklearn scaler, then labels exactly', () => {
    const meta = fixtureMeta['dbscan_rides_5k.csv'];
    const data = readNumericCsv('dbscan_rides_5k.csv');
    const { scaled, mean, std } = standardScale([data.ride_dist_km, data.ride_time_min]);
    meta.scaler!.mean.forEach((expected, k) => expect(mean[k]).toBeCloseTo(expected, 12));
    meta.scaler!.scale.forEach((expected, k) => expect(std[k] / expected).toBeCloseTo(1, 14));

    const result = dbscan(scaled, { eps: meta.eps, minSamples: meta.min_samples });
    expect(result.isCore).toEqual(Uint8Array.from(data.is_core));
    expect(noiseMask(result.labels)).toEqual(noiseMask(Int32Array.from(data.sklearn_label)));
    expect(result.labels).toEqual(Int32Array.from(data.sklearn_label));
    expect(result.labels.filter((label) => label === -1).length).toBe(meta.n_noise);
  });
});

describe('dbscan semantics', () => {
  const line = (...xs: number[]) => [Float64Array.from(xs)];
  it.each([
    {
      name: 'minSamples counts the point itself',
      columns: line(0, 1, 10),
      eps: 1,
      minSamples: 2,
      labels: [0, 0, -1],
      isCore: [1, 1, 0],
    },
    {
      name: 'a point at exactly eps is a neighbour',
      columns: [Float64Array.of(0, 3, 10), Float64Array.of(0, 4, 10)],
      eps: 5,
      minSamples: 2,
      labels: [0, 0, -1],
      isCore: [1, 1, 0],
    },
    {
      name: 'a point just beyond eps is not',
      columns: line(0, 0.5 + 2 ** -40),
      eps: 0.5,
      minSamples: 2,
      labels: [-1, -1],
      isCore: [0, 0],
    },
    {
      name: 'minSamples 1 makes every point core',
      columns: line(0, 5, 10),
      eps: 1,
      minSamples: 1,
      labels: [0, 1, 2],
      isCore: [1, 1, 1],
    },
    {
      name: 'all points noise',
      columns: line(0, 2, 4, 6),
      eps: 1,
      minSamples: 2,
      labels: [-1, -1, -1, -1],
      isCore: [0, 0, 0, 0],
    },
    {
      name: 'one cluster, numbered from its lowest core row',
      columns: line(3, 0, 1, 2),
      eps: 1,
      minSamples: 3,
      labels: [0, 0, 0, 0],
      isCore: [0, 0, 1, 1],
    },
    {
      name: 'clusters numbered by lowest core row, not by position',
      columns: line(10, 10.5, 0, 0.5, 11),
      eps: 0.6,
      minSamples: 2,
      labels: [0, 0, 1, 1, 0],
      isCore: [1, 1, 1, 1, 1],
    },
    {
      // Row 2 (x=0) touches the cores at 1 (cluster 0) and -1 (cluster 1): it takes the lower id.
      name: 'a border point between two clusters joins the lower-numbered one',
      columns: line(1.4, -1.4, 0, 1, -1, 1.8, -1.8, 2.2, -2.2),
      eps: 1,
      minSamples: 4,
      labels: [0, 1, 0, 0, 1, 0, 1, 0, 1],
      isCore: [1, 1, 0, 1, 1, 1, 1, 0, 0],
    },
    {
      name: 'duplicates count separately',
      columns: [Float64Array.of(1, 1, 1, 9), Float64Array.of(2, 2, 2, 9)],
      eps: 0.1,
      minSamples: 3,
      labels: [0, 0, 0, -1],
      isCore: [1, 1, 1, 0],
    },
  ])('$name', ({ columns, eps, minSamples, labels, isCore }) => {
    const result = dbscan(columns, { eps, minSamples });
    expect(Array.from(result.labels)).toEqual(labels);
    expect(Array.from(result.isCore)).toEqual(isCore);
    expect(result.clusterCount).toBe(Math.max(-1, ...labels) + 1);
  });

  it('returns empty arrays for no rows', () => {
    const result = dbscan([new Float64Array(0), new Float64Array(0)], { eps: 1, minSamples: 2 });
    expect(result).toEqual({ labels: new Int32Array(0), isCore: new Uint8Array(0), clusterCount: 0 });
  });

  it.each([
    { dims: 1, count: 1500, eps: 0.05, minSamples: 5 },
    { dims: 2, count: 1500, eps: 0.4, minSamples: 6 },
    { dims: 3, count: 1500, eps: 0.8, minSamples: 5 },
    { dims: 4, count: 1200, eps: 1.1, minSamples: 4 },
  ])('matches the brute-force definition in $dims-D', ({ dims, count, eps, minSamples }) => {
    const columns = blobs(count, dims, 17 + dims);
    const expected = bruteForceDbscan(columns, eps, minSamples);
    expect(expected.clusterCount).toBeGreaterThan(1);
    expect(expected.labels).toContain(-1);
    expect(dbscan(columns, { eps, minSamples })).toEqual(expected);
  });

  it('matches brute force on a lattice where many pairs sit exactly eps apart', () => {
    // Integer lattice with eps 1 and sqrt(2): distance ties everywhere, including cell corners.
    const columns = [new Float64Array(400), new Float64Array(400)];
    const random = new SeededRandom(5);
    for (let row = 0; row < 400; row++) {
      columns[0][row] = Math.floor(random.next() * 30);
      columns[1][row] = Math.floor(random.next() * 30);
    }
    for (const eps of [1, Math.SQRT2, 2]) {
      for (const minSamples of [2, 4, 6]) {
        expect(dbscan(columns, { eps, minSamples })).toEqual(bruteForceDbscan(columns, eps, minSamples));
      }
    }
  });
});

describe('dbscan grid layouts agree', () => {
  const base = readNumericCsv('dbscan_2d_small.csv');
  const options = { eps: 0.5, minSamples: 10 };
  const reference = dbscan([base.x, base.y], options);

  /** Extra rows, isolated from each other and from the base data, so they must come out as noise. */
  function withIsolatedRows(xs: number[], ys: number[]) {
    const result = dbscan(concat([base.x, base.y], [Float64Array.from(xs), Float64Array.from(ys)]), options);
    expect(result.labels.subarray(0, base.x.length)).toEqual(reference.labels);
    expect(result.isCore.subarray(0, base.x.length)).toEqual(reference.isCore);
    expect(Array.from(result.labels.subarray(base.x.length))).toEqual(xs.map(() => -1));
    expect(result.clusterCount).toBe(reference.clusterCount);
  }

  it('far outliers (the plain grid would be too big; binning finds the gaps to squeeze out)', () => {
    withIsolatedRows([1e4, -1e6, 5e5], [1e6, -3e4, 0]);
  });

  it('outliers hundreds of orders of magnitude away (gaps found by sorting)', () => {
    withIsolatedRows([1e6, -1e9, 1e15, 3e300, -1e300], [1e6, 1e9, -1e15, 0, -1e300]);
  });

  it('a long chain with no gap to squeeze (falls back to the sorted grid)', () => {
    // 3000 rows 0.6 apart on each axis: about 8000 x 8000 cells, far more than a dense grid allows.
    const steps = [...Array(3000).keys()].map((i) => 20 + 0.6 * i);
    withIsolatedRows(steps, steps);
  });

  it('the sorted grid matches brute force in 3-D', () => {
    const cluster = blobs(600, 3, 3);
    const chain = [0, 1, 2].map((k) => Float64Array.from({ length: 2500 }, (_, i) => 20 + 0.6 * i + k));
    const columns = concat(cluster, chain);
    expect(dbscan(columns, { eps: 0.8, minSamples: 5 })).toEqual(bruteForceDbscan(columns, 0.8, 5));
  });

  it('the sorted grid matches brute force in 4-D', () => {
    const cluster = blobs(600, 4, 4);
    const chain = [0, 1, 2, 3].map((k) => Float64Array.from({ length: 2000 }, (_, i) => 20 + 0.6 * i + k));
    const columns = concat(cluster, chain);
    expect(dbscan(columns, { eps: 1.1, minSamples: 4 })).toEqual(bruteForceDbscan(columns, 1.1, 4));
  });

  it('shifting and scaling the data with eps leaves labels unchanged', () => {
    const shifted = dbscan([base.x.map((x) => x * 1024 + 1e9), base.y.map((y) => y * 1024 - 1e9)], {
      eps: 512,
      minSamples: 10,
    });
    expect(shifted).toEqual(reference);
  });
});

describe('dbscan input checks', () => {
  const column = Float64Array.of(0, 1, 2);
  it.each([
    { name: 'eps 0', columns: [column], options: { eps: 0, minSamples: 2 }, message: /eps/ },
    { name: 'negative eps', columns: [column], options: { eps: -1, minSamples: 2 }, message: /eps/ },
    { name: 'NaN eps', columns: [column], options: { eps: NaN, minSamples: 2 }, message: /eps/ },
    { name: 'infinite eps', columns: [column], options: { eps: Infinity, minSamples: 2 }, message: /eps/ },
    { name: 'minSamples 0', columns: [column], options: { eps: 1, minSamples: 0 }, message: /minSamples/ },
    { name: 'fractional minSamples', columns: [column], options: { eps: 1, minSamples: 2.5 }, message: /minSamples/ },
    { name: 'no features', columns: [], options: { eps: 1, minSamples: 2 }, message: /1 to 4 feature/ },
    {
      name: 'five features',
      columns: [column, column, column, column, column],
      options: { eps: 1, minSamples: 2 },
      message: /1 to 4 feature/,
    },
    {
      name: 'mismatched lengths',
      columns: [column, Float64Array.of(0, 1)],
      options: { eps: 1, minSamples: 2 },
      message: /feature 1 has 2 values but feature 0 has 3/,
    },
    {
      name: 'NaN value',
      columns: [column, Float64Array.of(0, NaN, 1)],
      options: { eps: 1, minSamples: 2 },
      message: /feature 1 has a non-finite value \(NaN\) at row 1/,
    },
    {
      name: 'infinite value',
      columns: [Float64Array.of(0, 1, -Infinity)],
      options: { eps: 1, minSamples: 2 },
      message: /feature 0 has a non-finite value \(-Infinity\) at row 2/,
    },
  ])('rejects $name', ({ columns, options, message }) => {
    expect(() => dbscan(columns, options)).toThrow(message);
  });
});

describe('nearestCoreDistance', () => {
  function bruteForceNearest(columns: Float64Array[], isCore: Uint8Array, queries: number[]): Float64Array {
    return Float64Array.from(queries, (query) => {
      let best = Infinity;
      for (let row = 0; row < isCore.length; row++) {
        if (!isCore[row]) continue;
        let sum = 0;
        for (const column of columns) sum += (column[row] - column[query]) * (column[row] - column[query]);
        best = Math.min(best, sum);
      }
      return Math.sqrt(best);
    });
  }

  it.each([
    { dims: 1, eps: 0.02 },
    { dims: 2, eps: 0.3 },
    { dims: 3, eps: 0.6 },
    { dims: 4, eps: 1 },
  ])('equals brute force for noise and core queries in $dims-D', ({ dims, eps }) => {
    const columns = blobs(5000, dims, 40 + dims);
    const { labels, isCore } = dbscan(columns, { eps, minSamples: 8 });
    const queries = [...labels.keys()].filter((row) => labels[row] === -1 || row % 97 === 0);
    expect(queries.some((row) => labels[row] === -1)).toBe(true);

    const distances = nearestCoreDistance(columns, isCore, Int32Array.from(queries));
    expect(distances).toEqual(bruteForceNearest(columns, isCore, queries));
    const coreQueries = queries.flatMap((row, q) => (isCore[row] === 1 ? [distances[q]] : []));
    expect(coreQueries.length).toBeGreaterThan(0);
    expect(coreQueries.every((distance) => distance === 0)).toBe(true);
  });

  it('equals brute force when core points sit at wildly different scales or on a constant axis', () => {
    // The Z-order grid spans the whole range, so the small clusters share a handful of its cells.
    const random = new SeededRandom(9);
    const xs = Float64Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? 1e12 : 0) + random.next() * (i % 2 ? 1 : 1e-6));
    const columns = [xs, new Float64Array(xs.length).fill(4)];
    const isCore = Uint8Array.from(xs, () => (random.next() < 0.3 ? 1 : 0));
    const queries = [...isCore.keys()].filter((row) => row % 7 === 0);
    expect(nearestCoreDistance(columns, isCore, queries)).toEqual(bruteForceNearest(columns, isCore, queries));
  });

  it('is Infinity without core points and accepts plain arrays', () => {
    const columns = [Float64Array.of(0, 5, 9)];
    expect(Array.from(nearestCoreDistance(columns, new Uint8Array(3), [0, 2]))).toEqual([Infinity, Infinity]);
    expect(Array.from(nearestCoreDistance(columns, Uint8Array.of(0, 1, 0), [0, 2, 1]))).toEqual([5, 4, 0]);
  });

  it('rejects bad queries and core flags', () => {
    const columns = [Float64Array.of(0, 1)];
    expect(() => nearestCoreDistance(columns, new Uint8Array(2), [2])).toThrow(/query index 2/);
    expect(() => nearestCoreDistance(columns, new Uint8Array(2), [0.5])).toThrow(/query index 0.5/);
    expect(() => nearestCoreDistance(columns, new Uint8Array(3), [0])).toThrow(/isCore has 3 entries for 2 rows/);
  });
});
