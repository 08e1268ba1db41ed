/** Distances to the nearest core point of a DBSCAN result, the score of its outliers. */
import { InputError } from '../../errors.js';
import { radixSortRecords } from './radix-sort.js';
import { axisRanges, MAX_FEATURES, validateColumns } from './validate.js';

/**
 * For each query row, the Euclidean distance to the nearest core point (0 for a core point itself),
 * or Infinity when there is no core point. Used to score DBSCAN outliers.
 *
 * Core points are sorted in Z-order on a fine grid (a radix sort, linear time) and a bounding-box
 * hierarchy over runs of that order is searched nearest-box-first, so it stays fast for many queries
 * on millions of points.
 *
 * @param columns the features given to {@link dbscan}.
 * @param isCore the `isCore` of the {@link dbscan} result.
 * @param queryIndices rows to score.
 * @throws InputError on malformed columns, an isCore of the wrong length or an out-of-range index.
 */
export function nearestCoreDistance(
  columns: readonly Float64Array[],
  isCore: Uint8Array,
  queryIndices: Int32Array | number[],
): Float64Array {
  const rowCount = validateColumns(columns, 'nearestCoreDistance');
  const dims = columns.length;
  if (isCore.length !== rowCount) {
    throw new InputError(`nearestCoreDistance: isCore has ${isCore.length} entries for ${rowCount} rows`);
  }
  for (let q = 0; q < queryIndices.length; q++) {
    const row = queryIndices[q];
    if (!Number.isInteger(row) || row < 0 || row >= rowCount) {
      throw new InputError(`nearestCoreDistance: query index ${row} is not a row of 0..${rowCount - 1}`);
    }
  }
  const { lows, highs } = axisRanges(columns, rowCount, 'nearestCoreDistance');
  const tree = buildBoxTree(columns, isCore, lows, highs);

  const distances = new Float64Array(queryIndices.length);
  const query = new Float64Array(dims);
  for (let q = 0; q < queryIndices.length; q++) {
    const row = queryIndices[q];
    if (isCore[row] !== 0) continue;
    for (let k = 0; k < dims; k++) query[k] = columns[k][row];
    distances[q] = Math.sqrt(nearestSquaredDistance(tree, query));
  }
  return distances;
}

/** Points per leaf of the box tree. */
const LEAF_SIZE = 16;
/**
 * Most bits of the Z-order code: two radix passes. The order only groups points into leaves (the
 * search is exact whatever it is), and a finer one prunes no better.
 */
const CODE_BITS = 22;

/**
 * Core points in Z-order, grouped into leaves of LEAF_SIZE consecutive points, under a complete
 * binary tree of bounding boxes: node 1 is the root, node i has children 2i and 2i+1, and nodes
 * leafBase .. 2*leafBase-1 are the leaves (those past the last point have empty boxes).
 */
interface BoxTree {
  dims: number;
  count: number;
  /** Point coordinates in Z-order, interleaved. */
  coords: Float64Array;
  leafBase: number;
  /** Box of each node: lows then highs, 2 * dims values per node. */
  boxes: Float64Array;
  /** Traversal stack: node and squared lower bound per entry. */
  stackNodes: Int32Array;
  stackBounds: Float64Array;
}

function buildBoxTree(
  columns: readonly Float64Array[],
  isCore: Uint8Array,
  lows: Float64Array,
  highs: Float64Array,
): BoxTree {
  const dims = columns.length;
  const coords = zOrderedCoreCoords(columns, isCore, lows, highs);
  const count = coords.length / dims;
  let leafBase = 1;
  while (leafBase * LEAF_SIZE < count) leafBase *= 2;
  const width = 2 * dims;
  const boxes = new Float64Array(2 * leafBase * width);
  for (let node = leafBase; node < 2 * leafBase; node++) {
    const first = (node - leafBase) * LEAF_SIZE;
    const end = Math.min(count, first + LEAF_SIZE);
    for (let k = 0; k < dims; k++) {
      let low = Infinity;
      let high = -Infinity;
      for (let point = first; point < end; point++) {
        const value = coords[point * dims + k];
        if (value < low) low = value;
        if (value > high) high = value;
      }
      boxes[node * width + k] = low;
      boxes[node * width + dims + k] = high;
    }
  }
  for (let node = leafBase - 1; node >= 1; node--) {
    for (let k = 0; k < dims; k++) {
      boxes[node * width + k] = Math.min(boxes[2 * node * width + k], boxes[(2 * node + 1) * width + k]);
      boxes[node * width + dims + k] = Math.max(
        boxes[2 * node * width + dims + k],
        boxes[(2 * node + 1) * width + dims + k],
      );
    }
  }
  const depth = Math.log2(leafBase);
  return {
    dims,
    count,
    coords,
    leafBase,
    boxes,
    stackNodes: new Int32Array(depth + 2),
    stackBounds: new Float64Array(depth + 2),
  };
}

/**
 * Coordinates (interleaved) of the core points, sorted by their Z-order code on a grid of up to
 * 2^15 cells per axis over the data's box (2^11 with two features).
 */
function zOrderedCoreCoords(
  columns: readonly Float64Array[],
  isCore: Uint8Array,
  lows: Float64Array,
  highs: Float64Array,
): Float64Array {
  const dims = columns.length;
  const axisBits = Math.min(15, Math.floor(CODE_BITS / dims));
  const maxCell = 2 ** axisBits - 1;
  // A zero or overflowing range puts the whole axis in cell 0.
  const scales = Array.from(lows, (low, k) => {
    const scale = maxCell / (highs[k] - low);
    return Number.isFinite(scale) ? scale : 0;
  });

  let count = 0;
  for (let row = 0; row < isCore.length; row++) count += isCore[row] === 0 ? 0 : 1;
  const codes = new Int32Array(count);
  const coords = new Float64Array(count * dims);
  for (let row = 0, point = 0; row < isCore.length; row++) {
    if (isCore[row] === 0) continue;
    let code = 0;
    for (let k = 0; k < dims; k++) {
      const value = columns[k][row];
      coords[point * dims + k] = value;
      code |= spreadBits(Math.min(maxCell, Math.floor((value - lows[k]) * scales[k])) || 0, dims) << k;
    }
    codes[point++] = code;
  }
  return radixSortRecords(codes, 1, coords, dims, [{ field: 0, bits: axisBits * dims }]).payload;
}

/** SPREAD_TABLES[dims - 1][byte]: the byte's bit b moved to bit b * dims. */
const SPREAD_TABLES = Array.from({ length: MAX_FEATURES }, (_, d) =>
  Int32Array.from({ length: 256 }, (_, byte) => {
    let spread = 0;
    for (let bit = 0; bit < 8; bit++) spread |= ((byte >>> bit) & 1) << (bit * (d + 1));
    return spread;
  }),
);

/** Spreads the bits of `value` (< 2^16, and < 2^(30 / dims)) so that bit b lands at b * dims. */
function spreadBits(value: number, dims: number): number {
  const table = SPREAD_TABLES[dims - 1];
  return table[value & 255] | (table[value >>> 8] << (8 * dims));
}

function nearestSquaredDistance(tree: BoxTree, query: Float64Array): number {
  const { dims, count, coords, leafBase, stackNodes, stackBounds } = tree;
  let best = Infinity;
  if (count === 0) return best;
  stackNodes[0] = 1;
  stackBounds[0] = 0;
  let depth = 1;
  while (depth > 0) {
    depth--;
    if (stackBounds[depth] >= best) continue;
    const node = stackNodes[depth];
    if (node >= leafBase) {
      const end = Math.min(count, (node - leafBase + 1) * LEAF_SIZE);
      for (let point = (node - leafBase) * LEAF_SIZE; point < end; point++) {
        let sum = 0;
        for (let k = 0; k < dims; k++) {
          const delta = coords[point * dims + k] - query[k];
          sum += delta * delta;
        }
        if (sum < best) best = sum;
      }
      continue;
    }
    // Nearer child on top of the stack, so it is searched first.
    const left = 2 * node;
    const leftBound = boxGapToQuery(tree, left, query);
    const rightBound = boxGapToQuery(tree, left + 1, query);
    const nearFirst = leftBound <= rightBound;
    stackNodes[depth] = nearFirst ? left + 1 : left;
    stackBounds[depth++] = nearFirst ? rightBound : leftBound;
    stackNodes[depth] = nearFirst ? left : left + 1;
    stackBounds[depth++] = nearFirst ? leftBound : rightBound;
  }
  return best;
}

/** Squared lower bound on the distance from the query to the node's box (Infinity for an empty box). */
function boxGapToQuery(tree: BoxTree, node: number, query: Float64Array): number {
  const { dims, boxes } = tree;
  const at = node * 2 * dims;
  let sum = 0;
  for (let k = 0; k < dims; k++) {
    const value = query[k];
    const gap = Math.max(boxes[at + k] - value, value - boxes[at + dims + k], 0);
    sum += gap * gap;
  }
  return sum;
}
