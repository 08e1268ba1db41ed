/**
 * DBSCAN on a uniform grid (Gunawan's 2-D algorithm, generalised to 1..4 features), with the exact
 * semantics of scikit-learn's `DBSCAN(metric='euclidean')`.
 *
 * The grid's cell side is a hair under eps/sqrt(d), so any two points sharing a cell are neighbours:
 * a cell holding >= minSamples points is core as a whole, and all core points of a cell belong to the
 * same cluster. Clusters are then connected components of a union-find over cells, and only points
 * in sparse cells ever need their neighbours counted.
 *
 * Distances are compared squared (`sum (a_k - b_k)^2 <= eps^2`), as sklearn's KD/ball trees do.
 */
import { InputError } from '../../errors.js';
import { buildGrid, type CellGrid } from './grid.js';
import { NeighbourScan } from './neighbour-scan.js';
import { validateColumns } from './validate.js';

/** Parameters of {@link dbscan}, as in scikit-learn. */
export interface DbscanOptions {
  /** Neighbourhood radius: points at Euclidean distance <= eps are neighbours. */
  eps: number;
  /** Neighbourhood size, the point itself included, from which a point is core. */
  minSamples: number;
}

/** Result of {@link dbscan}, indexed like the input rows. */
export interface DbscanResult {
  /** Cluster of each row: -1 for noise, else 0..clusterCount-1. */
  labels: Int32Array;
  /** 1 where the row is a core point, else 0. */
  isCore: Uint8Array;
  clusterCount: number;
}

/** Larger than any cluster id. */
const NO_CLUSTER = 0x7fffffff;

/**
 * Clusters points with DBSCAN, exactly as scikit-learn's `DBSCAN(eps, min_samples).fit(X)` labels
 * them: neighbourhoods use Euclidean distance <= eps and include the point itself; a point is core
 * when its neighbourhood has >= minSamples points; clusters are numbered in order of their
 * lowest-index core point; a border point joins the lowest-numbered cluster among the core points
 * within eps; everything else is noise (-1).
 *
 * Runs in O(n) memory and near-linear time for typical data.
 *
 * @param columns one Float64Array per feature (1 to 4 features), all of the same length n.
 * @throws InputError on bad options, a wrong number of features, mismatched lengths or non-finite values.
 */
export function dbscan(columns: readonly Float64Array[], options: DbscanOptions): DbscanResult {
  const rowCount = validateColumns(columns, 'dbscan');
  const { eps, minSamples } = options;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw new InputError(`dbscan: eps must be a finite number > 0, got ${eps}`);
  }
  if (!Number.isInteger(minSamples) || minSamples < 1) {
    throw new InputError(`dbscan: minSamples must be an integer >= 1, got ${minSamples}`);
  }
  if (rowCount === 0) return { labels: new Int32Array(0), isCore: new Uint8Array(0), clusterCount: 0 };

  const epsSquared = eps * eps;
  const grid = buildGrid(columns, rowCount, eps);
  const slotIsCore = findCorePoints(grid, epsSquared, minSamples);
  const coreEnd = moveCoresFirst(grid, slotIsCore);
  const { parent, nearCore } = linkCoreCells(grid, coreEnd, epsSquared);

  const isCore = new Uint8Array(rowCount);
  for (let slot = 0; slot < rowCount; slot++) isCore[grid.slotRow[slot]] = slotIsCore[slot];
  const { labels, clusterCount, cellCluster } = numberClusters(grid, isCore, parent, coreEnd);
  labelBorderPoints(grid, coreEnd, nearCore, cellCluster, epsSquared, labels);
  return { labels, isCore, clusterCount };
}

// Lower bounds below are computed with the same subtractions and summation order as
// squaredDistance(), so (float rounding being monotonic) they never exceed a real distance.

function boxGapSquared(grid: CellGrid, a: number, b: number): number {
  const { dims, cellBox } = grid;
  const atA = a * 2 * dims;
  const atB = b * 2 * dims;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const gap = Math.max(
      cellBox[atB + k] - cellBox[atA + dims + k],
      cellBox[atA + k] - cellBox[atB + dims + k],
      0,
    );
    sum += gap * gap;
  }
  return sum;
}

function pointBoxGapSquared(grid: CellGrid, slot: number, cell: number): number {
  const { dims, slotCoords, cellBox } = grid;
  const at = cell * 2 * dims;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const value = slotCoords[slot * dims + k];
    const gap = Math.max(cellBox[at + k] - value, value - cellBox[at + dims + k], 0);
    sum += gap * gap;
  }
  return sum;
}

function squaredDistance(coords: Float64Array, dims: number, a: number, b: number): number {
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const delta = coords[a * dims + k] - coords[b * dims + k];
    sum += delta * delta;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------
// Phases

/** Core flag per slot: whole cells with >= minSamples points, else neighbours counted up to minSamples. */
function findCorePoints(grid: CellGrid, epsSquared: number, minSamples: number): Uint8Array {
  const { dims, cellCount, cellStart, slotCoords } = grid;
  const slotIsCore = new Uint8Array(slotCoords.length / dims);
  const scan = new NeighbourScan(grid);
  const neighbours = scan.cells;
  for (let cell = 0; cell < cellCount; cell++) {
    const start = cellStart[cell];
    const end = cellStart[cell + 1];
    if (end - start >= minSamples) {
      slotIsCore.fill(1, start, end);
      continue;
    }
    const neighbourCount = scan.collect(cell);
    for (let slot = start; slot < end; slot++) {
      let count = end - start;
      for (let t = 0; t < neighbourCount && count < minSamples; t++) {
        const other = neighbours[t];
        if (pointBoxGapSquared(grid, slot, other) > epsSquared) continue;
        const otherEnd = cellStart[other + 1];
        for (let candidate = cellStart[other]; candidate < otherEnd; candidate++) {
          if (squaredDistance(slotCoords, dims, slot, candidate) <= epsSquared && ++count >= minSamples) break;
        }
      }
      if (count >= minSamples) slotIsCore[slot] = 1;
    }
  }
  return slotIsCore;
}

/** Reorders each cell's slots so core points come first; returns where each cell's cores end. */
function moveCoresFirst(grid: CellGrid, slotIsCore: Uint8Array): Int32Array {
  const { dims, cellCount, cellStart, slotRow, slotCoords } = grid;
  const coreEnd = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) {
    let front = cellStart[cell];
    let back = cellStart[cell + 1] - 1;
    while (front <= back) {
      if (slotIsCore[front] === 1) {
        front++;
      } else if (slotIsCore[back] === 0) {
        back--;
      } else {
        slotIsCore[front] = 1;
        slotIsCore[back] = 0;
        const row = slotRow[front];
        slotRow[front] = slotRow[back];
        slotRow[back] = row;
        for (let k = 0; k < dims; k++) {
          const value = slotCoords[front * dims + k];
          slotCoords[front * dims + k] = slotCoords[back * dims + k];
          slotCoords[back * dims + k] = value;
        }
        front++;
        back--;
      }
    }
    coreEnd[cell] = front;
  }
  return coreEnd;
}

/**
 * Union-find over cells: two cells holding core points join when some pair of those is within eps.
 * Also flags the cells next to (or holding) core points: only their other points can be borders.
 */
function linkCoreCells(grid: CellGrid, coreEnd: Int32Array, epsSquared: number) {
  const { dims, cellCount, cellStart, slotCoords } = grid;
  const parent = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) parent[cell] = cell;
  const nearCore = new Uint8Array(cellCount);
  const scan = new NeighbourScan(grid);
  const neighbours = scan.cells;
  for (let cell = 0; cell < cellCount; cell++) {
    const start = cellStart[cell];
    const cores = coreEnd[cell];
    if (cores === start) continue;
    nearCore[cell] = 1;
    const neighbourCount = scan.collect(cell);
    for (let t = 0; t < neighbourCount; t++) {
      const other = neighbours[t];
      nearCore[other] = 1;
      // Each pair once, from its lower id; skip cells without cores and pairs already joined.
      if (other < cell || coreEnd[other] === cellStart[other]) continue;
      const root = findRoot(parent, cell);
      const otherRoot = findRoot(parent, other);
      if (root === otherRoot || boxGapSquared(grid, cell, other) > epsSquared) continue;
      const otherStart = cellStart[other];
      const otherCores = coreEnd[other];
      let touching = false;
      for (let slot = start; slot < cores && !touching; slot++) {
        if (pointBoxGapSquared(grid, slot, other) > epsSquared) continue;
        for (let candidate = otherStart; candidate < otherCores; candidate++) {
          if (squaredDistance(slotCoords, dims, slot, candidate) <= epsSquared) {
            touching = true;
            break;
          }
        }
      }
      if (touching) parent[Math.max(root, otherRoot)] = Math.min(root, otherRoot);
    }
  }
  return { parent, nearCore };
}

function findRoot(parent: Int32Array, node: number): number {
  while (parent[node] !== node) {
    parent[node] = parent[parent[node]];
    node = parent[node];
  }
  return node;
}

/**
 * Labels core rows, numbering components in order of their lowest core row, and returns the
 * cluster of each cell (-1 for cells without core points).
 */
function numberClusters(grid: CellGrid, isCore: Uint8Array, parent: Int32Array, coreEnd: Int32Array) {
  const { cellCount, cellStart, rowCell } = grid;
  const labels = new Int32Array(isCore.length).fill(-1);
  const rootCluster = new Int32Array(cellCount).fill(-1);
  let clusterCount = 0;
  for (let row = 0; row < isCore.length; row++) {
    if (isCore[row] === 0) continue;
    const root = findRoot(parent, rowCell[row]);
    if (rootCluster[root] < 0) rootCluster[root] = clusterCount++;
    labels[row] = rootCluster[root];
  }
  const cellCluster = new Int32Array(cellCount);
  for (let cell = 0; cell < cellCount; cell++) {
    cellCluster[cell] = coreEnd[cell] > cellStart[cell] ? rootCluster[findRoot(parent, cell)] : -1;
  }
  return { labels, clusterCount, cellCluster };
}

/** Gives each non-core point the lowest cluster among the core points within eps (else leaves -1). */
function labelBorderPoints(
  grid: CellGrid,
  coreEnd: Int32Array,
  nearCore: Uint8Array,
  cellCluster: Int32Array,
  epsSquared: number,
  labels: Int32Array,
): void {
  const { dims, cellCount, cellStart, slotRow, slotCoords } = grid;
  const scan = new NeighbourScan(grid);
  const neighbours = scan.cells;
  for (let cell = 0; cell < cellCount; cell++) {
    const end = cellStart[cell + 1];
    if (coreEnd[cell] === end || nearCore[cell] === 0) continue;
    const neighbourCount = scan.collect(cell);
    // Core points sharing the cell are within eps of every point in it.
    const ownCluster = cellCluster[cell] < 0 ? NO_CLUSTER : cellCluster[cell];
    for (let slot = coreEnd[cell]; slot < end; slot++) {
      let best = ownCluster;
      for (let t = 0; t < neighbourCount; t++) {
        const other = neighbours[t];
        const cluster = cellCluster[other];
        if (cluster < 0 || cluster >= best || pointBoxGapSquared(grid, slot, other) > epsSquared) continue;
        const otherCores = coreEnd[other];
        for (let candidate = cellStart[other]; candidate < otherCores; candidate++) {
          if (squaredDistance(slotCoords, dims, slot, candidate) <= epsSquared) {
            best = cluster;
            break;
          }
        }
      }
      if (best !== NO_CLUSTER) labels[slotRow[slot]] = best;
    }
  }
}
