/**
 * Isolation Forest (Liu, Ting & Zhou, 2008) with the semantics of scikit-learn's `IsolationForest`.
 *
 * Each tree is grown on its own random subsample, drawn without replacement, by splitting on a random
 * non-constant feature at a uniform random value between the node's min and max, down to depth
 * ceil(log2(maxSamples)). A row's path length in a tree is the depth of the leaf it lands in plus
 * c(leaf size), the expected depth still needed to isolate it among the leaf's training rows.
 * Outliers are isolated early, so short mean path lengths mean anomalous rows.
 *
 * Scoring many rows looks path lengths up instead of walking trees. The thresholds of a few trees on
 * each feature cut that axis into intervals, and on every cell of the grid of those intervals each of
 * the trees, hence their summed path length, is constant. So rows are ranked once per feature among
 * all thresholds of the forest; then, per group of trees, one small array per feature turns ranks
 * into the row's cell and one table lookup adds the group's path lengths. That replaces ~8
 * dependent, unpredictable branches per row and tree by a few loads per row and group (about 15x
 * faster at 1M rows and 2 features). With many features the grids grow too large and trees are
 * walked instead; both ways sum in the same order and give the same bits.
 *
 * Randomness comes from a seeded 32-bit generator, so a seed gives the same forest on any platform.
 * Values are compared as float64 (sklearn casts to float32 first); scores match sklearn's in
 * distribution, not digit for digit, since they depend on the random trees.
 */
import { InputError } from '../errors.js';
import { SeededRandom } from '../random.js';

/** Options of {@link fitIsolationForest}; defaults as in scikit-learn. */
export interface IsolationForestOptions {
  /** Trees in the forest (sklearn `n_estimators`). Default 100. */
  nEstimators?: number;
  /** Rows drawn, without replacement, to grow each tree (sklearn `max_samples`); capped at the row count. Default 256. */
  maxSamples?: number;
  /** Seed of the random generator, an integer in 0..2^32-1: same seed and rows, same forest. Default 0. */
  seed?: number;
  /**
   * Expected share of outliers, in (0, 0.5]: the offset is then that quantile of the training rows'
   * scores. 'auto' (the default) uses the paper's offset, -0.5.
   */
  contamination?: 'auto' | number;
}

/**
 * A fitted forest as plain data: flat typed arrays over all nodes of all trees. Node indices are
 * forest-wide; a node's children are stored next to each other, so its right child is `left + 1`.
 * {@link isolationForestToJSON} and {@link isolationForestFromJSON} convert it to and from JSON.
 */
export interface IsolationForestModel {
  /** Features the forest was fitted on; scoring takes the same columns in the same order. */
  featureCount: number;
  /** Rows each tree was grown on: mean path lengths are normalised by c(sampleSize). */
  sampleSize: number;
  /** Rows whose {@link scoreSamples} value is below the offset are outliers (sklearn `offset_`). */
  offset: number;
  /** Tree t holds nodes treeStart[t] .. treeStart[t+1]-1, its root first; treeCount + 1 entries. */
  treeStart: Int32Array;
  /** Split feature of each node; -1 marks a leaf. */
  feature: Int16Array;
  /** Split value of each node: rows with value <= threshold go left. 0 for leaves. */
  threshold: Float64Array;
  /** Left child of each node (the right child is left + 1); -1 for leaves. */
  left: Int32Array;
  /** Training rows that reached each leaf; 0 for split nodes. */
  leafSize: Int32Array;
}

/** {@link IsolationForestModel} with number arrays instead of typed arrays, for JSON. */
export interface IsolationForestJson {
  kind: typeof MODEL_KIND;
  version: typeof MODEL_VERSION;
  featureCount: number;
  sampleSize: number;
  offset: number;
  treeStart: number[];
  feature: number[];
  threshold: number[];
  left: number[];
  leafSize: number[];
}

/** A fitted forest together with the {@link scoreSamples} values of the rows it was fitted on. */
export interface FittedIsolationForest {
  model: IsolationForestModel;
  /** sklearn's `score_samples` of each training row. */
  sampleScores: Float64Array;
}

const MODEL_KIND = 'isolation-forest';
const MODEL_VERSION = 1;
/** The Euler–Mascheroni constant, for harmonic numbers H(n) ≈ ln(n) + γ. */
const EULER_GAMMA = 0.5772156649015329;
/** sklearn's offset for contamination 'auto': a row is an outlier when its paper score exceeds 0.5. */
const AUTO_OFFSET = -0.5;
/** Feature indices are stored as Int16. */
const MAX_FEATURES = 0x7fff;
const MAX_SEED = 2 ** 32 - 1;
/** A group of trees shares one grid of at most this many cells (Float64, 256 KiB: stays in L2)... */
const GROUP_CELLS = 2 ** 15;
/** ...and the tables of all groups at most this many (32 MiB). */
const MAX_TABLE_CELLS = 2 ** 22;
/** Walking a row down a tree costs about as much as adding a path length to this many table cells (measured). */
const CELL_FILLS_PER_TREE_WALK = 4;

type Forest = Omit<IsolationForestModel, 'offset'>;

interface ForestSettings {
  treeCount: number;
  sampleSize: number;
  seed: number;
  contamination: 'auto' | number;
}

/**
 * Fits an Isolation Forest, as scikit-learn's `IsolationForest(n_estimators, max_samples,
 * contamination, random_state).fit(X)` does (see the module comment for what may differ).
 *
 * @param columns one Float64Array per feature, all of the same length (at least 2 rows).
 * @throws InputError on bad options, malformed columns, fewer than 2 rows or a non-finite value.
 */
export function fitIsolationForest(
  columns: readonly Float64Array[],
  options: IsolationForestOptions = {},
): IsolationForestModel {
  const settings = checkSettings(columns, options);
  const forest = growForest(columns, settings);
  return { ...forest, offset: offsetFor(settings.contamination, () => scoreForest(forest, columns)) };
}

/**
 * {@link fitIsolationForest} and {@link scoreSamples} of the same rows in one scoring pass (a numeric
 * contamination needs those scores anyway): what sklearn's `fit(X)` then `score_samples(X)` give.
 *
 * @throws InputError as {@link fitIsolationForest}.
 */
export function fitAndScoreIsolationForest(
  columns: readonly Float64Array[],
  options: IsolationForestOptions = {},
): FittedIsolationForest {
  const settings = checkSettings(columns, options);
  const forest = growForest(columns, settings);
  const sampleScores = scoreForest(forest, columns);
  return { model: { ...forest, offset: offsetFor(settings.contamination, () => sampleScores) }, sampleScores };
}

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

/** The model as JSON-ready plain data (thresholds keep every bit: JSON numbers round-trip doubles). */
export function isolationForestToJSON(model: IsolationForestModel): IsolationForestJson {
  return {
    kind: MODEL_KIND,
    version: MODEL_VERSION,
    featureCount: model.featureCount,
    sampleSize: model.sampleSize,
    offset: model.offset,
    treeStart: Array.from(model.treeStart),
    feature: Array.from(model.feature),
    threshold: Array.from(model.threshold),
    left: Array.from(model.left),
    leafSize: Array.from(model.leafSize),
  };
}

/**
 * A model from {@link isolationForestToJSON} output (parsed JSON), checked so that scoring cannot
 * read out of bounds or loop.
 *
 * @throws InputError when the value is not a well-formed model.
 */
export function isolationForestFromJSON(value: unknown): IsolationForestModel {
  if (typeof value !== 'object' || value === null) invalidModel('expected an object');
  const json = value as Record<string, unknown>;
  if (json.kind !== MODEL_KIND || json.version !== MODEL_VERSION) {
    invalidModel(`expected kind "${MODEL_KIND}" version ${MODEL_VERSION}, got kind "${json.kind}" version ${json.version}`);
  }
  const offset = json.offset;
  if (typeof offset !== 'number' || !Number.isFinite(offset)) invalidModel(`offset must be a finite number, got ${offset}`);
  const whole = (name: string, min: number, max: number): number => {
    const field = json[name];
    if (typeof field === 'number' && Number.isInteger(field) && field >= min && field <= max) return field;
    return invalidModel(`${name} must be a whole number in ${min}..${max}, got ${field}`);
  };
  // Checked before conversion, since typed arrays would silently truncate or wrap bad values.
  const numbers = (name: string, isValid: (item: number) => boolean): number[] => {
    const field = json[name];
    if (Array.isArray(field) && field.every((item) => typeof item === 'number' && isValid(item))) return field;
    return invalidModel(`${name} must be an array of valid numbers`);
  };
  const featureCount = whole('featureCount', 1, MAX_FEATURES);
  const index = (item: number) => Number.isInteger(item) && item >= -1 && item <= 0x7fffffff;
  const model: IsolationForestModel = {
    featureCount,
    sampleSize: whole('sampleSize', 2, 0x7fffffff),
    offset,
    treeStart: Int32Array.from(numbers('treeStart', index)),
    feature: Int16Array.from(numbers('feature', (item) => index(item) && item < featureCount)),
    threshold: Float64Array.from(numbers('threshold', Number.isFinite)),
    left: Int32Array.from(numbers('left', index)),
    leafSize: Int32Array.from(numbers('leafSize', index)),
  };
  const problem = structureProblem(model);
  if (problem !== null) invalidModel(problem);
  return model;
}

function invalidModel(problem: string): never {
  throw new InputError(`isolation forest model: ${problem}`);
}

/** Why the node arrays do not form trees that {@link fitIsolationForest} could have grown, or null. */
function structureProblem(model: IsolationForestModel): string | null {
  const { treeStart, feature, threshold, left, leafSize } = model;
  const nodeCount = feature.length;
  if (threshold.length !== nodeCount || left.length !== nodeCount || leafSize.length !== nodeCount) return 'node arrays differ in length';
  if (treeStart.length < 2 || treeStart[0] !== 0 || treeStart[treeStart.length - 1] !== nodeCount) return 'treeStart does not span the nodes';
  for (let tree = 0; tree + 1 < treeStart.length; tree++) {
    const end = treeStart[tree + 1];
    if (end <= treeStart[tree]) return `tree ${tree} is empty`;
    for (let node = treeStart[tree]; node < end; node++) {
      const isLeaf = feature[node] === -1;
      // Children after their parent and inside its tree: every walk ends at a leaf of the same tree.
      const wellFormed = isLeaf ? left[node] === -1 && leafSize[node] >= 1 : left[node] > node && left[node] + 1 < end;
      if (!wellFormed) return `${isLeaf ? 'leaf' : 'split node'} ${node} is malformed`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Fitting

function checkSettings(columns: readonly Float64Array[], options: IsolationForestOptions): ForestSettings {
  const rowCount = checkColumns(columns, null);
  const { nEstimators = 100, maxSamples = 256, seed = 0, contamination = 'auto' } = options;
  if (!Number.isInteger(nEstimators) || nEstimators < 1) {
    throw new InputError(`isolation forest: nEstimators must be a whole number >= 1, got ${nEstimators}`);
  }
  if (!Number.isInteger(maxSamples) || maxSamples < 2) {
    throw new InputError(`isolation forest: maxSamples must be a whole number >= 2, got ${maxSamples}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new InputError(`isolation forest: seed must be a whole number in 0..${MAX_SEED}, got ${seed}`);
  }
  if (contamination !== 'auto' && !(typeof contamination === 'number' && contamination > 0 && contamination <= 0.5)) {
    throw new InputError(`isolation forest: contamination must be 'auto' or a number in (0, 0.5], got ${contamination}`);
  }
  if (rowCount < 2) throw new InputError(`isolation forest: needs at least 2 rows to fit, got ${rowCount}`);
  return { treeCount: nEstimators, sampleSize: Math.min(maxSamples, rowCount), seed, contamination };
}

/**
 * Checks the columns (all finite, of one length; `featureCount` of them when given) and returns
 * the row count.
 */
function checkColumns(columns: readonly Float64Array[], featureCount: number | null): number {
  if (!Array.isArray(columns) || columns.length < 1 || columns.length > MAX_FEATURES) {
    const count = Array.isArray(columns) ? columns.length : typeof columns;
    throw new InputError(`isolation forest: expected 1 to ${MAX_FEATURES} feature columns, got ${count}`);
  }
  if (featureCount !== null && columns.length !== featureCount) {
    throw new InputError(`isolation forest: the model was fitted on ${featureCount} features, got ${columns.length}`);
  }
  for (let k = 0; k < columns.length; k++) {
    const column = columns[k];
    if (!(column instanceof Float64Array)) throw new InputError(`isolation forest: feature ${k} is not a Float64Array`);
    if (column.length !== columns[0].length) {
      throw new InputError(`isolation forest: feature ${k} has ${column.length} values but feature 0 has ${columns[0].length}`);
    }
    // x - x is 0 for finite x and NaN for NaN and ±Infinity, so one check per value finds both.
    let check = 0;
    for (let row = 0; row < column.length; row++) check += column[row] - column[row];
    if (check !== 0) {
      const row = column.findIndex((value) => !Number.isFinite(value));
      throw new InputError(`isolation forest: feature ${k} has a non-finite value (${column[row]}) at row ${row}`);
    }
  }
  return columns[0].length;
}

function growForest(columns: readonly Float64Array[], settings: ForestSettings): Forest {
  const { treeCount, sampleSize } = settings;
  const rowCount = columns[0].length;
  const maxDepth = Math.ceil(Math.log2(Math.max(sampleSize, 2)));
  // A tree over m rows down to depth D has at most min(2m, 2^(D+1)) - 1 nodes.
  const capacity = treeCount * (Math.min(2 * sampleSize, 2 ** (maxDepth + 1)) - 1);
  const forest: Forest = {
    featureCount: columns.length,
    sampleSize,
    treeStart: new Int32Array(treeCount + 1),
    feature: new Int16Array(capacity),
    threshold: new Float64Array(capacity),
    left: new Int32Array(capacity),
    leafSize: new Int32Array(capacity),
  };
  const random = new SeededRandom(settings.seed);
  // Partial Fisher–Yates over a permutation kept across trees: each prefix is a fresh sample without replacement.
  const permutation = new Int32Array(rowCount);
  for (let row = 0; row < rowCount; row++) permutation[row] = row;
  const rows = new Int32Array(sampleSize);
  const scratch: GrowScratch = { candidates: new Int32Array(columns.length), stack: new Int32Array(4 * (maxDepth + 2)) };
  for (let tree = 0; tree < treeCount; tree++) {
    for (let i = 0; i < sampleSize; i++) {
      const pick = i + random.below(rowCount - i);
      rows[i] = permutation[pick];
      permutation[pick] = permutation[i];
      permutation[i] = rows[i];
    }
    forest.treeStart[tree + 1] = growTree(forest, forest.treeStart[tree], columns, rows, maxDepth, random, scratch);
  }
  const nodeCount = forest.treeStart[treeCount];
  return {
    ...forest,
    feature: forest.feature.slice(0, nodeCount),
    threshold: forest.threshold.slice(0, nodeCount),
    left: forest.left.slice(0, nodeCount),
    leafSize: forest.leafSize.slice(0, nodeCount),
  };
}

interface GrowScratch {
  /** Features not yet ruled out for a split. */
  candidates: Int32Array;
  /** Nodes still to grow: node, start and end of its rows, depth; 4 entries each. */
  stack: Int32Array;
}

/**
 * Grows one tree over `rows` (reordered in place) into the forest's arrays from node `root` on,
 * depth first, and returns the index after its last node. A node splits on a feature drawn
 * uniformly among those not constant on its rows, at a uniform value in [min, max) (rows <=
 * threshold go left), until depth `maxDepth` or a single row.
 */
function growTree(
  forest: Forest,
  root: number,
  columns: readonly Float64Array[],
  rows: Int32Array,
  maxDepth: number,
  random: SeededRandom,
  scratch: GrowScratch,
): number {
  const { feature, threshold, left, leafSize } = forest;
  const { stack } = scratch;
  let nextNode = root + 1;
  let stackSize = 0;
  const push = (node: number, start: number, end: number, depth: number) => {
    stack[stackSize++] = node;
    stack[stackSize++] = start;
    stack[stackSize++] = end;
    stack[stackSize++] = depth;
  };
  push(root, 0, rows.length, 0);
  while (stackSize > 0) {
    const depth = stack[--stackSize];
    const end = stack[--stackSize];
    const start = stack[--stackSize];
    const node = stack[--stackSize];
    const split = depth < maxDepth && end - start > 1 ? drawSplit(columns, rows, start, end, random, scratch.candidates) : null;
    if (split === null) {
      feature[node] = -1;
      left[node] = -1;
      leafSize[node] = end - start;
      continue;
    }
    // Partition: rows <= threshold to the front, the others to the back.
    const column = columns[split.feature];
    let low = start;
    let high = end - 1;
    while (low <= high) {
      if (column[rows[low]] <= split.threshold) low++;
      else {
        const row = rows[low];
        rows[low] = rows[high];
        rows[high--] = row;
      }
    }
    feature[node] = split.feature;
    threshold[node] = split.threshold;
    left[node] = nextNode;
    push(nextNode, start, low, depth + 1);
    push(nextNode + 1, low, end, depth + 1);
    nextNode += 2;
  }
  return nextNode;
}

/** A random split of rows[start..end), or null when every feature is constant there. */
function drawSplit(
  columns: readonly Float64Array[],
  rows: Int32Array,
  start: number,
  end: number,
  random: SeededRandom,
  candidates: Int32Array,
): { feature: number; threshold: number } | null {
  for (let k = 0; k < candidates.length; k++) candidates[k] = k;
  // Draw features without replacement until one varies, as sklearn's random splitter does.
  for (let remaining = candidates.length; remaining > 0; remaining--) {
    const pick = random.below(remaining);
    const candidate = candidates[pick];
    candidates[pick] = candidates[remaining - 1];
    const column = columns[candidate];
    let low = Infinity;
    let high = -Infinity;
    for (let i = start; i < end; i++) {
      const value = column[rows[i]];
      if (value < low) low = value;
      if (value > high) high = value;
    }
    if (!(high > low)) continue;
    const threshold = low + (high - low) * random.next53();
    // sklearn's guard: rounding (or an overflowing range) must not put every row on the left.
    return { feature: candidate, threshold: threshold < high ? threshold : low };
  }
  return null;
}

/**
 * sklearn's `offset_`: -0.5 for 'auto', else numpy's `percentile(scores, 100 * contamination)` of the
 * training rows' scores (linear interpolation). Takes the scores lazily: only a number needs them.
 */
function offsetFor(contamination: 'auto' | number, trainingScores: () => Float64Array): number {
  if (contamination === 'auto') return AUTO_OFFSET;
  const sorted = trainingScores().slice().sort();
  const position = ((100 * contamination) / 100) * (sorted.length - 1);
  const below = Math.floor(position);
  const fraction = position - below;
  const low = sorted[below];
  const high = sorted[Math.min(below + 1, sorted.length - 1)];
  // numpy's lerp, which interpolates from the nearer end.
  return fraction >= 0.5 ? high - (high - low) * (1 - fraction) : low + (high - low) * fraction;
}

// ---------------------------------------------------------------------------------------------
// Scoring

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

function scoreForest(forest: Forest, columns: readonly Float64Array[]): Float64Array {
  const rowCount = checkColumns(columns, forest.featureCount);
  const pathLength = leafPathLengths(forest);
  const groups = groupTrees(forest);
  const sums = lookupPaysOff(groups, rowCount * (forest.treeStart.length - 1))
    ? sumPathsByLookup(buildLookupTables(forest, pathLength, groups), columns)
    : sumPathsByWalking(forest, pathLength, groups, columns);
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
  for (let node = 0; node < feature.length; node++) {
    if (feature[node] < 0) pathLength[node] = depth[node] + averagePathLength(leafSize[node]);
    else depth[left[node]] = depth[left[node] + 1] = depth[node] + 1;
  }
  return pathLength;
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

/** Sum over trees of each row's path length, walking every tree. */
function sumPathsByWalking(
  forest: Forest,
  pathLength: Float64Array,
  groups: readonly TreeGroup[],
  columns: readonly Float64Array[],
): Float64Array {
  const { feature, threshold, left, treeStart } = forest;
  const sums = new Float64Array(columns[0].length);
  const point = new Float64Array(columns.length);
  for (let row = 0; row < sums.length; row++) {
    for (let k = 0; k < columns.length; k++) point[k] = columns[k][row];
    // Summed group by group, in the order the lookup tables add up, so both give the same bits.
    let sum = 0;
    for (const { firstTree, endTree } of groups) {
      let groupSum = 0;
      for (let tree = firstTree; tree < endTree; tree++) {
        let node = treeStart[tree];
        // Branch-free step: +(value > threshold) picks the right child, stored after the left one.
        while (feature[node] >= 0) node = left[node] + +(point[feature[node]] > threshold[node]);
        groupSum += pathLength[node];
      }
      sum += groupSum;
    }
    sums[row] = sum;
  }
  return sums;
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
