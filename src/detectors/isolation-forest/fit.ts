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
import type { Forest, IsolationForestModel } from './model.js';
import { scoreForest } from './score.js';
import { checkColumns } from './validate.js';
import { growKernel } from './wasm-kernel.js';

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

/**
 * Grows the forest in the WebAssembly kernel (grow.wat): each tree on its own random subsample,
 * drawn without replacement by a partial Fisher–Yates over a permutation kept across trees. A node
 * splits on a feature drawn uniformly among those not constant on its rows, at a uniform value in
 * [min, max) (rows <= threshold go left), until depth ceil(log2(sampleSize)) or a single row.
 */
function growForest(columns: readonly Float64Array[], settings: ForestSettings): Forest {
  const { treeCount, sampleSize } = settings;
  const featureCount = columns.length;
  const rowCount = columns[0].length;
  const maxDepth = Math.ceil(Math.log2(Math.max(sampleSize, 2)));
  // A tree over m rows down to depth D has at most min(2m, 2^(D+1)) - 1 nodes.
  const capacity = treeCount * (Math.min(2 * sampleSize, 2 ** (maxDepth + 1)) - 1);
  // Byte addresses of grow.wat's layout, the f64 arrays first so that each is 8-byte aligned.
  const columnsAt = 0;
  const thresholdAt = columnsAt + 8 * rowCount * featureCount;
  const featureAt = thresholdAt + 8 * capacity;
  const leftAt = featureAt + 4 * capacity;
  const leafSizeAt = leftAt + 4 * capacity;
  const treeStartAt = leafSizeAt + 4 * capacity;
  const permutationAt = treeStartAt + 4 * (treeCount + 1);
  const rowsAt = permutationAt + 4 * rowCount;
  const stackAt = rowsAt + 4 * sampleSize;
  const candidatesAt = stackAt + 16 * (maxDepth + 2);
  const { kernel, f64, i32 } = growKernel.withMemory(candidatesAt + 4 * featureCount);
  columns.forEach((column, k) => f64.set(column, columnsAt / 8 + k * rowCount));
  const nodeCount = kernel.grow(treeCount, sampleSize, rowCount, featureCount, maxDepth, settings.seed, columnsAt, permutationAt, rowsAt, stackAt, candidatesAt, featureAt, thresholdAt, leftAt, leafSizeAt, treeStartAt);
  const nodes = (at: number) => i32.subarray(at / 4, at / 4 + nodeCount);
  return {
    featureCount,
    sampleSize,
    treeStart: i32.slice(treeStartAt / 4, treeStartAt / 4 + treeCount + 1),
    feature: Int16Array.from(nodes(featureAt)),
    threshold: f64.slice(thresholdAt / 8, thresholdAt / 8 + nodeCount),
    left: nodes(leftAt).slice(),
    leafSize: nodes(leafSizeAt).slice(),
  };
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
