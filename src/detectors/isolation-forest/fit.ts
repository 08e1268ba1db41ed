/**
 * Fitting an Isolation Forest (Liu, Ting & Zhou, 2008) with the semantics of scikit-learn's
 * `IsolationForest`.
 *
 * Each tree is grown on its own random subsample, drawn without replacement, by splitting on a random
 * non-constant feature at a uniform random value between the node's min and max, down to depth
 * ceil(log2(maxSamples)).
 *
 * Randomness comes from a seeded 32-bit generator, so a seed gives the same forest on any platform.
 * Values are compared as float64 (sklearn casts to float32 first); scores match sklearn's in
 * distribution, not digit for digit, since they depend on the random trees.
 */
import { InputError } from '../../errors.js';
import { SeededRandom } from '../../random.js';
import type { Forest, IsolationForestModel } from './model.js';
import { scoreForest } from './score.js';
import { checkColumns } from './validate.js';

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

/** A fitted forest together with the {@link scoreSamples} values of the rows it was fitted on. */
export interface FittedIsolationForest {
  model: IsolationForestModel;
  /** sklearn's `score_samples` of each training row. */
  sampleScores: Float64Array;
}

/** sklearn's offset for contamination 'auto': a row is an outlier when its paper score exceeds 0.5. */
const AUTO_OFFSET = -0.5;
const MAX_SEED = 2 ** 32 - 1;

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

/** The node arrays of a forest being grown (see {@link IsolationForestModel}). */
type NodeArrays = Pick<Forest, 'feature' | 'threshold' | 'left' | 'leafSize'>;

/**
 * Room for the nodes of forests up to this size is kept between fits (2.4 MB): a forest is grown
 * into room for the most nodes its trees could have, then copied out at its size, and allocating
 * and zeroing that room anew cost a tenth of a small fit. Larger room is not kept, so that one
 * large fit does not hold on to its memory.
 */
const KEPT_NODE_ROOM = 2 ** 17;
let keptNodeRoom: NodeArrays | undefined;

function nodeRoom(capacity: number): NodeArrays {
  if (keptNodeRoom !== undefined && keptNodeRoom.feature.length >= capacity) return keptNodeRoom;
  const room: NodeArrays = { feature: new Int16Array(capacity), threshold: new Float64Array(capacity), left: new Int32Array(capacity), leafSize: new Int32Array(capacity) };
  if (capacity <= KEPT_NODE_ROOM) keptNodeRoom = room;
  return room;
}

function growForest(columns: readonly Float64Array[], settings: ForestSettings): Forest {
  const { treeCount, sampleSize } = settings;
  const rowCount = columns[0].length;
  const maxDepth = Math.ceil(Math.log2(Math.max(sampleSize, 2)));
  // A tree over m rows down to depth D has at most min(2m, 2^(D+1)) - 1 nodes.
  const room = nodeRoom(treeCount * (Math.min(2 * sampleSize, 2 ** (maxDepth + 1)) - 1));
  const treeStart = new Int32Array(treeCount + 1);
  const random = new SeededRandom(settings.seed);
  // Partial Fisher–Yates over a permutation kept across trees: each prefix is a fresh sample without replacement.
  const permutation = new Int32Array(rowCount);
  for (let row = 0; row < rowCount; row++) permutation[row] = row;
  const rows = new Int32Array(sampleSize);
  const scratch: GrowScratch = { candidates: new Int32Array(columns.length), stack: new Int32Array(4 * (maxDepth + 2)), threshold: new Float64Array(1) };
  for (let tree = 0; tree < treeCount; tree++) {
    for (let i = 0; i < sampleSize; i++) {
      const pick = i + random.below(rowCount - i);
      rows[i] = permutation[pick];
      permutation[pick] = permutation[i];
      permutation[i] = rows[i];
    }
    treeStart[tree + 1] = growTree(room, treeStart[tree], columns, rows, maxDepth, random, scratch);
  }
  const nodeCount = treeStart[treeCount];
  return {
    featureCount: columns.length,
    sampleSize,
    treeStart,
    feature: room.feature.slice(0, nodeCount),
    threshold: room.threshold.slice(0, nodeCount),
    left: room.left.slice(0, nodeCount),
    leafSize: room.leafSize.slice(0, nodeCount),
  };
}

interface GrowScratch {
  /** Features not yet ruled out for a split. */
  candidates: Int32Array;
  /** Nodes still to grow: node, start and end of its rows, depth; 4 entries each. */
  stack: Int32Array;
  /** The threshold of the split drawSplit drew. */
  threshold: Float64Array;
}

/**
 * Grows one tree over `rows` (reordered in place) into the node arrays from node `root` on,
 * depth first, and returns the index after its last node. A node splits on a feature drawn
 * uniformly among those not constant on its rows, at a uniform value in [min, max) (rows <=
 * threshold go left), until depth `maxDepth` or a single row.
 */
function growTree(
  nodes: NodeArrays,
  root: number,
  columns: readonly Float64Array[],
  rows: Int32Array,
  maxDepth: number,
  random: SeededRandom,
  scratch: GrowScratch,
): number {
  const { feature, threshold, left, leafSize } = nodes;
  const { stack } = scratch;
  let nextNode = root + 1;
  stack[0] = root;
  stack[1] = 0;
  stack[2] = rows.length;
  stack[3] = 0;
  let stackSize = 4;
  while (stackSize > 0) {
    const depth = stack[--stackSize];
    const end = stack[--stackSize];
    const start = stack[--stackSize];
    const node = stack[--stackSize];
    const splitFeature = depth < maxDepth && end - start > 1 ? drawSplit(columns, rows, start, end, random, scratch) : -1;
    // Every field of every node is written: the arrays may hold an earlier forest.
    if (splitFeature < 0) {
      feature[node] = -1;
      threshold[node] = 0;
      left[node] = -1;
      leafSize[node] = end - start;
      continue;
    }
    // Partition, rows <= threshold to the front: branch-free (Lomuto), since which way a row goes
    // is a coin toss the processor would mispredict half the time. The order within each side is
    // immaterial: a node's split depends only on which rows it holds.
    const column = columns[splitFeature];
    const splitThreshold = scratch.threshold[0];
    let low = start;
    for (let i = start; i < end; i++) {
      const row = rows[i];
      rows[i] = rows[low];
      rows[low] = row;
      low += +(column[row] <= splitThreshold);
    }
    feature[node] = splitFeature;
    threshold[node] = splitThreshold;
    left[node] = nextNode;
    leafSize[node] = 0;
    // Left, then right: the right child is grown first, which fixes the order of the random draws.
    stack[stackSize++] = nextNode;
    stack[stackSize++] = start;
    stack[stackSize++] = low;
    stack[stackSize++] = depth + 1;
    stack[stackSize++] = nextNode + 1;
    stack[stackSize++] = low;
    stack[stackSize++] = end;
    stack[stackSize++] = depth + 1;
    nextNode += 2;
  }
  return nextNode;
}

/**
 * A random split of rows[start..end): its feature, with its threshold in `scratch.threshold[0]`;
 * -1 when every feature is constant there.
 */
function drawSplit(columns: readonly Float64Array[], rows: Int32Array, start: number, end: number, random: SeededRandom, scratch: GrowScratch): number {
  const { candidates } = scratch;
  for (let k = 0; k < candidates.length; k++) candidates[k] = k;
  // Draw features without replacement until one varies, as sklearn's random splitter does.
  for (let remaining = candidates.length; remaining > 0; remaining--) {
    const pick = random.below(remaining);
    const candidate = candidates[pick];
    candidates[pick] = candidates[remaining - 1];
    const column = columns[candidate];
    // The first value starts both bounds: every later value updates at most one of them.
    let low = column[rows[start]];
    let high = low;
    for (let i = start + 1; i < end; i++) {
      const value = column[rows[i]];
      if (value < low) low = value;
      else if (value > high) high = value;
    }
    if (!(high > low)) continue;
    const threshold = low + (high - low) * random.next53();
    // sklearn's guard: rounding (or an overflowing range) must not put every row on the left.
    scratch.threshold[0] = threshold < high ? threshold : low;
    return candidate;
  }
  return -1;
}

/**
 * sklearn's `offset_`: -0.5 for 'auto', else numpy's `percentile(scores, 100 * contamination)` of the
 * training rows' scores (linear interpolation). Takes the scores lazily: only a number needs them.
 */
function offsetFor(contamination: 'auto' | number, trainingScores: () => Float64Array): number {
  if (contamination === 'auto') return AUTO_OFFSET;
  const scores = trainingScores().slice();
  const position = ((100 * contamination) / 100) * (scores.length - 1);
  const below = Math.floor(position);
  const fraction = position - below;
  // The two order statistics around the position, as a full sort would place them.
  const low = selectInPlace(scores, below);
  let high = low;
  if (below + 1 < scores.length) {
    high = scores[below + 1];
    for (let i = below + 2; i < scores.length; i++) if (scores[i] < high) high = scores[i];
  }
  // numpy's lerp, which interpolates from the nearer end.
  return fraction >= 0.5 ? high - (high - low) * (1 - fraction) : low + (high - low) * fraction;
}

/**
 * The k-th smallest value (0-based) of `values`, which it reorders so that values[0..k) are <= it,
 * values[k] is it and values(k..] are >= it: Hoare's quickselect, middle pivot, O(n) on average.
 * The offset needs two order statistics, not the order of all scores.
 */
function selectInPlace(values: Float64Array, k: number): number {
  let left = 0;
  let right = values.length - 1;
  while (left < right) {
    const pivot = values[(left + right) >>> 1];
    let i = left;
    let j = right;
    while (i <= j) {
      while (values[i] < pivot) i++;
      while (values[j] > pivot) j--;
      if (i <= j) {
        const swapped = values[i];
        values[i++] = values[j];
        values[j--] = swapped;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k];
}
