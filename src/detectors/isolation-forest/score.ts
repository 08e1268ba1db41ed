/**
 * Scoring rows with a fitted Isolation Forest. A row's path length in a tree is the depth of the leaf
 * it lands in plus c(leaf size), the expected depth still needed to isolate it among the leaf's
 * training rows. Outliers are isolated early, so short mean path lengths mean anomalous rows.
 *
 * Scoring many rows looks path lengths up instead of walking trees. The thresholds of a few trees on
 * each feature cut that axis into intervals, and on every cell of the grid of those intervals each of
 * the trees, hence their summed path length, is constant. So rows are ranked once per feature among
 * all thresholds of the forest; then, per group of trees, one small array per feature turns ranks
 * into the row's cell and one table lookup adds the group's path lengths. That replaces ~8
 * dependent, unpredictable branches per row and tree by a few loads per row and group (about 15x
 * faster at 1M rows and 2 features). With many features the grids grow too large and trees are
 * walked instead; both ways sum in the same order and give the same bits.
 */
import type { Forest, IsolationForestModel } from './model.js';
import { checkColumns } from './validate.js';
import { walkKernel, type KernelCall } from './wasm-kernel.js';

/** The Euler–Mascheroni constant, for harmonic numbers H(n) ≈ ln(n) + γ. */
const EULER_GAMMA = 0.5772156649015329;
/** A group of trees shares one grid of at most this many cells (Float64, 256 KiB: stays in L2)... */
const GROUP_CELLS = 2 ** 15;
/** ...and the tables of all groups at most this many (32 MiB). */
const MAX_TABLE_CELLS = 2 ** 22;
/** Walking a row down a tree costs about as much as adding a path length to this many table cells (measured). */
const CELL_FILLS_PER_TREE_WALK = 4;

/**
 * scikit-learn's `score_samples`: -(2^(-E[h(x)] / c(sampleSize))), the negated anomaly score of the
 * paper, where E[h(x)] is the row's mean path length over the trees. Higher means more normal;
 * values lie in [-1, 0).
 *
 * @param columns the model's features, in the order it was fitted on.
 * @throws InputError on the wrong number of columns, mismatched lengths or a non-finite value.
 */
export function scoreSamples(model: IsolationForestModel, columns: readonly Float64Array[]): Float64Array {
  return scoreForest(model, columns);
}

/**
 * The anomaly score of the paper, 2^(-E[h(x)] / c(sampleSize)) in (0, 1]: higher means more
 * anomalous; near 1 is a clear outlier, well below 0.5 a normal row. Equals -{@link scoreSamples}.
 *
 * @throws InputError as {@link scoreSamples}.
 */
export function anomalyScores(model: IsolationForestModel, columns: readonly Float64Array[]): Float64Array {
  const scores = scoreForest(model, columns);
  for (let row = 0; row < scores.length; row++) scores[row] = -scores[row];
  return scores;
}

/**
 * sklearn's `predict` from {@link scoreSamples} values: -1 (outlier) where the score is below the
 * model's offset, else 1 (inlier).
 */
export function outlierLabels(model: IsolationForestModel, sampleScores: Float64Array): Int8Array {
  const labels = new Int8Array(sampleScores.length);
  for (let row = 0; row < sampleScores.length; row++) labels[row] = sampleScores[row] < model.offset ? -1 : 1;
  return labels;
}

/**
 * c(n), the average path length of an unsuccessful search in a binary search tree of n keys:
 * 2 H(n-1) - 2 (n-1) / n with H(i) ≈ ln(i) + γ, and c(1) = 0, c(2) = 1 (sklearn's `_average_path_length`).
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/**
 * Consecutive trees scored together. On each feature the group's distinct thresholds, its cuts, split
 * the axis into intervals; every tree of the group is constant on each cell of the grid of those
 * intervals, and so is their summed path length.
 */
interface TreeGroup {
  firstTree: number;
  endTree: number;
  /** Cells of the group's grid if no two thresholds on a feature are equal (else fewer). */
  maxCells: number;
}

/**
 * sklearn's `score_samples` of the rows under the forest's trees; takes a forest without its offset,
 * since fitting scores the training rows to choose it.
 *
 * @throws InputError as {@link scoreSamples}.
 */
export function scoreForest(forest: Forest, columns: readonly Float64Array[]): Float64Array {
  const rowCount = checkColumns(columns, forest.featureCount);
  const groups = groupTrees(forest);
  const sums = lookupPaysOff(groups, rowCount * (forest.treeStart.length - 1))
    ? sumPathsByLookup(buildLookupTables(forest, leafPathLengths(forest), groups), columns)
    : sumPathsByWalking(forest, groups, columns);
  // -(2^(-mean / c)) via exp, 3x faster than a power and equal to within an ulp.
  const exponentPerPath = -Math.LN2 / ((forest.treeStart.length - 1) * averagePathLength(forest.sampleSize));
  for (let row = 0; row < rowCount; row++) sums[row] = -Math.exp(sums[row] * exponentPerPath);
  return sums;
}

/** Path length of a row ending in each leaf: its depth plus c(leaf size); 0 for split nodes. */
function leafPathLengths(forest: Forest): Float64Array {
  const { feature, left, leafSize } = forest;
  // Children come after their parent, so one forward pass sees every parent's depth first.
  const depth = new Int32Array(feature.length);
  const pathLength = new Float64Array(feature.length);
  const averageOfSize = averagePathLengths(forest.sampleSize);
  for (let node = 0; node < feature.length; node++) {
    if (feature[node] >= 0) depth[left[node]] = depth[left[node] + 1] = depth[node] + 1;
    else pathLength[node] = depth[node] + leafAverage(averageOfSize, leafSize[node]);
  }
  return pathLength;
}

/** The last table averagePathLengths made: forests of one sample size are scored over and over. */
let lastAverages = new Float64Array(0);

/** c(n) of the leaf sizes a tree grows (up to its sample size), to look up rather than take a logarithm per leaf. Not to be written to. */
function averagePathLengths(sampleSize: number): Float64Array {
  if (lastAverages.length !== sampleSize + 1) {
    lastAverages = new Float64Array(sampleSize + 1);
    for (let size = 0; size <= sampleSize; size++) lastAverages[size] = averagePathLength(size);
  }
  return lastAverages;
}

function leafAverage(averageOfSize: Float64Array, leafSize: number): number {
  return leafSize < averageOfSize.length ? averageOfSize[leafSize] : averagePathLength(leafSize);
}

/** Groups consecutive trees while their grid stays within GROUP_CELLS cells (a lone tree may exceed it). */
function groupTrees(forest: Forest): TreeGroup[] {
  const { featureCount, treeStart, feature } = forest;
  const groups: TreeGroup[] = [];
  // Splits per feature of the tree at hand and of the last group: a grid has at most prod(splits + 1) cells.
  const treeSplits = new Float64Array(featureCount);
  const groupSplits = new Float64Array(featureCount);
  for (let tree = 0; tree + 1 < treeStart.length; tree++) {
    treeSplits.fill(0);
    for (let node = treeStart[tree]; node < treeStart[tree + 1]; node++) if (feature[node] >= 0) treeSplits[feature[node]]++;
    let joinedCells = 1;
    let ownCells = 1;
    for (let k = 0; k < featureCount; k++) {
      joinedCells *= groupSplits[k] + treeSplits[k] + 1;
      ownCells *= treeSplits[k] + 1;
    }
    const last = groups.at(-1);
    if (last !== undefined && joinedCells <= GROUP_CELLS) {
      last.endTree = tree + 1;
      last.maxCells = joinedCells;
    } else {
      groups.push({ firstTree: tree, endTree: tree + 1, maxCells: ownCells });
      groupSplits.fill(0);
    }
    for (let k = 0; k < featureCount; k++) groupSplits[k] += treeSplits[k];
  }
  return groups;
}

/** Per feature, the sorted distinct thresholds of the group's trees. */
function groupCuts(forest: Forest, group: TreeGroup): Float64Array[] {
  const { featureCount, treeStart, feature, threshold } = forest;
  const thresholds: number[][] = Array.from({ length: featureCount }, () => []);
  for (let node = treeStart[group.firstTree]; node < treeStart[group.endTree]; node++) {
    if (feature[node] >= 0) thresholds[feature[node]].push(threshold[node]);
  }
  return thresholds.map(distinctSorted);
}

function distinctSorted(values: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(values).sort();
  let count = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[count - 1]) sorted[count++] = sorted[i];
  return sorted.slice(0, count);
}

/** Whether filling the groups' tables costs less than walking `rowTrees` rows down trees. */
function lookupPaysOff(groups: readonly TreeGroup[], rowTrees: number): boolean {
  let cells = 0;
  let filledCells = 0;
  for (const group of groups) {
    cells += group.maxCells;
    filledCells += group.maxCells * (group.endTree - group.firstTree);
  }
  return cells <= MAX_TABLE_CELLS && filledCells <= rowTrees * CELL_FILLS_PER_TREE_WALK;
}

/** Rows laid into the walking kernel's memory at once: their values, sums and group sums take at most about this many bytes (1 MiB). */
const CHUNK_BYTES = 2 ** 20;
/** Bytes of a node in the kernel's memory (see walk.wat). */
const NODE_BYTES = 16;

/**
 * Sum over trees of each row's path length, walking every tree in the WebAssembly kernel (see
 * walk.wat): the forest is laid into its memory once, then rows a chunk at a time, each chunk
 * down every tree in turn, so that the tree being walked stays in the nearest cache.
 */
function sumPathsByWalking(forest: Forest, groups: readonly TreeGroup[], columns: readonly Float64Array[]): Float64Array {
  const { treeStart } = forest;
  const nodeCount = treeStart[treeStart.length - 1];
  const featureCount = columns.length;
  const rowCount = columns[0].length;
  const chunkRows = Math.max(8, Math.min(rowCount, Math.floor(CHUNK_BYTES / (8 * featureCount + 16))));
  // Byte addresses: nodes, their path lengths, then a chunk's row-major values, sums and group sums.
  const pathsAt = nodeCount * NODE_BYTES;
  const pointsAt = pathsAt + nodeCount * 8;
  const sumsAt = pointsAt + chunkRows * featureCount * 8;
  const groupSumsAt = sumsAt + chunkRows * 8;
  const call = walkKernel.withMemory(groupSumsAt + chunkRows * 8);
  const steps = layOutForest(forest, call, pathsAt);
  const { f64, kernel } = call;
  const sums = new Float64Array(rowCount);
  for (let first = 0; first < rowCount; first += chunkRows) {
    const rows = Math.min(chunkRows, rowCount - first);
    for (let k = 0; k < featureCount; k++) {
      const column = columns[k];
      for (let row = 0, at = pointsAt / 8 + k; row < rows; row++, at += featureCount) f64[at] = column[first + row];
    }
    f64.fill(0, sumsAt / 8, sumsAt / 8 + rows);
    // Summed group by group, in the order the lookup tables add up, so both give the same bits. A
    // lone tree's group sum is its path length (0 + x is exact): it goes straight to the rows' sums.
    for (const { firstTree, endTree } of groups) {
      const lone = endTree - firstTree === 1;
      if (!lone) f64.fill(0, groupSumsAt / 8, groupSumsAt / 8 + rows);
      for (let tree = firstTree; tree < endTree; tree++) {
        kernel.walk(treeStart[tree] * NODE_BYTES, pathsAt + treeStart[tree] * 8, steps[tree], pointsAt, featureCount * 8, rows, lone ? sumsAt : groupSumsAt);
      }
      if (!lone) for (let row = 0; row < rows; row++) f64[sumsAt / 8 + row] += f64[groupSumsAt / 8 + row];
    }
    sums.set(f64.subarray(sumsAt / 8, sumsAt / 8 + rows), first);
  }
  return sums;
}

/**
 * Lays the forest's nodes into the kernel's memory as walk.wat reads them, and the path length of a
 * row ending at each node at `pathsAt`; returns each tree's depth, the steps a walk takes. A leaf
 * keeps every (finite) value where it is, so a walk always takes the tree's depth in steps and its
 * loop has no data-dependent exit, whose misprediction cost more than the steps it saves.
 */
function layOutForest(forest: Forest, { f64, i32 }: KernelCall<unknown>, pathsAt: number): Int32Array {
  const { feature, threshold, left, leafSize, treeStart } = forest;
  const averageOfSize = averagePathLengths(forest.sampleSize);
  const depth = new Int32Array(feature.length);
  const steps = new Int32Array(treeStart.length - 1);
  // One pass: children come after their parent, so each node's depth is known when it is reached.
  for (let tree = 0; tree < steps.length; tree++) {
    let deepest = 0;
    for (let node = treeStart[tree]; node < treeStart[tree + 1]; node++) {
      const split = feature[node];
      if (split >= 0) {
        const child = left[node];
        depth[child] = depth[child + 1] = depth[node] + 1;
        f64[node * 2] = threshold[node];
        i32[node * 4 + 2] = child * NODE_BYTES;
        i32[node * 4 + 3] = split * 8;
      } else {
        f64[node * 2] = Infinity;
        i32[node * 4 + 2] = node * NODE_BYTES;
        i32[node * 4 + 3] = 0;
        // Only leaves' path lengths are read: a walk ends in a leaf.
        f64[pathsAt / 8 + node] = depth[node] + leafAverage(averageOfSize, leafSize[node]);
        if (depth[node] > deepest) deepest = depth[node];
      }
    }
    steps[tree] = deepest;
  }
  return steps;
}

/**
 * Tables for scoring by lookup. Rows are ranked per feature among `cuts`, all distinct thresholds of
 * the forest on that feature (a rank is how many cuts lie below the value). For group g and feature
 * k, the map at rankToCellStart[g * featureCount + k] turns a rank into the row's interval times the
 * feature's stride in the group's grid, so the maps add up to the row's cell; cell c of group g holds
 * the group's summed path length at cellPathSum[cellStart[g] + c].
 */
interface LookupTables {
  cuts: Float64Array[];
  rankToCell: Int32Array;
  rankToCellStart: Int32Array;
  cellPathSum: Float64Array;
  cellStart: Int32Array;
}

function buildLookupTables(forest: Forest, pathLength: Float64Array, groups: readonly TreeGroup[]): LookupTables {
  const { featureCount } = forest;
  const cutsByGroup = groups.map((group) => groupCuts(forest, group));
  const cuts = Array.from({ length: featureCount }, (_, k) => distinctSorted(cutsByGroup.flatMap((groupCuts) => [...groupCuts[k]])));
  const rankToCellStart = new Int32Array(groups.length * featureCount + 1);
  for (let map = 0; map < groups.length * featureCount; map++) {
    rankToCellStart[map + 1] = rankToCellStart[map] + cuts[map % featureCount].length + 1;
  }
  const rankToCell = new Int32Array(rankToCellStart[groups.length * featureCount]);
  const cellStart = new Int32Array(groups.length + 1);
  cutsByGroup.forEach((groupCuts, g) => {
    cellStart[g + 1] = cellStart[g] + groupCuts.reduce((cells, own) => cells * (own.length + 1), 1);
  });
  const cellPathSum = new Float64Array(cellStart[groups.length]);

  groups.forEach((group, g) => {
    const fill: GridFill = {
      cuts: cutsByGroup[g],
      strides: new Int32Array(featureCount),
      low: new Int32Array(featureCount),
      high: Int32Array.from(cutsByGroup[g], (own) => own.length),
      position: new Int32Array(featureCount),
    };
    let stride = 1;
    for (let k = 0; k < featureCount; k++) {
      fill.strides[k] = stride;
      // A value of rank r lies above cuts[k][r-1] and no higher cut, so above the group's cuts up to it.
      const at = rankToCellStart[g * featureCount + k];
      const own = fill.cuts[k];
      for (let rank = 1, below = 0; rank <= cuts[k].length; rank++) {
        while (below < own.length && own[below] <= cuts[k][rank - 1]) below++;
        rankToCell[at + rank] = below * stride;
      }
      stride *= own.length + 1;
    }
    for (let tree = group.firstTree; tree < group.endTree; tree++) {
      addTreeToGrid(forest, pathLength, forest.treeStart[tree], fill, cellPathSum, cellStart[g]);
    }
  });
  return { cuts, rankToCell, rankToCellStart, cellPathSum, cellStart };
}

/** Sum over trees of each row's path length, by table lookups. */
function sumPathsByLookup(tables: LookupTables, columns: readonly Float64Array[]): Float64Array {
  const { rankToCell, rankToCellStart, cellPathSum, cellStart } = tables;
  const featureCount = columns.length;
  const groupCount = cellStart.length - 1;
  const rowCount = columns[0].length;
  const ranks = columns.map((column, k) => ranksAmong(tables.cuts[k], column));
  const sums = new Float64Array(rowCount);
  const cellOfRow = new Int32Array(rowCount);
  const last = featureCount - 1;
  // Group by group over all rows: the group's table stays in cache while the rows stream past.
  for (let g = 0; g < groupCount; g++) {
    cellOfRow.fill(cellStart[g]);
    for (let k = 0; k < last; k++) {
      const rank = ranks[k];
      const map = rankToCellStart[g * featureCount + k];
      for (let row = 0; row < rowCount; row++) cellOfRow[row] += rankToCell[map + rank[row]];
    }
    const rank = ranks[last];
    const map = rankToCellStart[g * featureCount + last];
    for (let row = 0; row < rowCount; row++) sums[row] += cellPathSum[cellOfRow[row] + rankToCell[map + rank[row]]];
  }
  return sums;
}

/** Filling a group's table: its grid, and the box of the grid that the subtree being filled covers. */
interface GridFill {
  cuts: readonly Float64Array[];
  /** Cell index = sum over features of interval * stride. */
  strides: Int32Array;
  /** Per feature, the box spans intervals low..high (inclusive). */
  low: Int32Array;
  high: Int32Array;
  /** Scratch cell coordinates. */
  position: Int32Array;
}

/** Adds, to every cell of the box, the path length of the leaf of the subtree at `node` that covers it. */
function addTreeToGrid(forest: Forest, pathLength: Float64Array, node: number, fill: GridFill, cells: Float64Array, base: number): void {
  const k = forest.feature[node];
  if (k < 0) {
    addToBox(fill, cells, base, pathLength[node]);
    return;
  }
  // The split's threshold is one of the group's cuts, and values <= cuts[cut] lie in intervals 0..cut.
  const cut = rankAmong(fill.cuts[k], forest.threshold[node]);
  const { low, high } = fill;
  const lowest = low[k];
  const highest = high[k];
  if (lowest <= cut) {
    high[k] = Math.min(highest, cut);
    addTreeToGrid(forest, pathLength, forest.left[node], fill, cells, base);
    high[k] = highest;
  }
  if (cut < highest) {
    low[k] = Math.max(lowest, cut + 1);
    addTreeToGrid(forest, pathLength, forest.left[node] + 1, fill, cells, base);
    low[k] = lowest;
  }
}

/** Adds the value to every cell of the fill's box. */
function addToBox(fill: GridFill, cells: Float64Array, base: number, value: number): void {
  const { strides, low, high, position } = fill;
  position.set(low);
  for (;;) {
    let line = base;
    for (let k = 1; k < position.length; k++) line += position[k] * strides[k];
    for (let cell = line + low[0]; cell <= line + high[0]; cell++) cells[cell] += value;
    let k = 1;
    for (; k < position.length && position[k] === high[k]; k++) position[k] = low[k];
    if (k === position.length) return;
    position[k]++;
  }
}

/** How many cuts are below the value (a branch-free binary search). */
function rankAmong(cuts: Float64Array, value: number): number {
  if (cuts.length === 0) return 0;
  let base = 0;
  for (let size = cuts.length; size > 1; ) {
    const half = size >>> 1;
    base += +(cuts[base + half] < value) * half;
    size -= half;
  }
  return base + +(cuts[base] < value);
}

function ranksAmong(cuts: Float64Array, values: Float64Array): Int32Array {
  const ranks = new Int32Array(values.length);
  for (let row = 0; row < values.length; row++) ranks[row] = rankAmong(cuts, values[row]);
  return ranks;
}
