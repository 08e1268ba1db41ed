/**
 * Gradient-boosted decision trees for a binary outcome (log loss), histogram-based: each feature
 * is cut into at most `bins` bins by its quantiles once, and trees grow level by level over bin
 * histograms of gradient and hessian (a child's histogram is its parent's minus its sibling's).
 * No sampling anywhere: the same rows in the same order give the same trees, bit for bit.
 */
import { z } from 'zod';
import { InputError } from '../../errors.js';
import { parseArtifact, sigmoid, type LabelledRows, type SupervisedModel } from './supervised.js';

const ParamsSchema = z
  .object({
    /** Trees, each fitted to what the ones before got wrong. */
    rounds: z.number().int().min(1).max(5000).default(100),
    /** Levels of splits per tree (2^depth leaves at most). */
    depth: z.number().int().min(1).max(10).default(4),
    /** Shrinkage of each tree's contribution. */
    learningRate: z.number().gt(0).max(1).default(0.1),
    /** Bins per feature (split candidates are their edges). */
    bins: z.number().int().min(2).max(256).default(128),
    /** A split leaving fewer rows on either side is not made. */
    minLeafRows: z.number().int().min(1).default(20),
    /** L2 penalty on leaf values. */
    l2: z.number().min(0).default(1),
  })
  .strict();
export type GbdtParams = z.infer<typeof ParamsSchema>;

/** A tree as stored: its nodes in arrays, node 0 the root; a split node's children are adjacent, the right one after the left. */
const TreeSchema = z
  .object({
    /** Per node: the feature it splits on, -1 for a leaf. */
    feature: z.array(z.number().int().min(-1)),
    /** Rows with `value <= threshold` go to the left child, the others to the one after it. */
    threshold: z.array(z.number()),
    /** A split node's left child (-1 for a leaf). */
    left: z.array(z.number().int().min(-1)),
    /** A leaf's contribution to the log-odds (learning rate included). */
    value: z.array(z.number().refine(Number.isFinite, 'must be a finite number')),
  })
  .refine((tree) => [tree.threshold, tree.left, tree.value].every((column) => column.length === tree.feature.length) && tree.feature.length > 0, 'node arrays differ in length or are empty')
  // Children come after their parent, so a walk from node 0 always ends at a leaf.
  .refine((tree) => tree.feature.every((feature, node) => feature < 0 || (tree.left[node] > node && tree.left[node] + 1 < tree.feature.length)), 'a split node must point to later nodes');

const ArtifactSchema = z
  .object({
    kind: z.literal('gbdt'),
    features: z.number().int().min(1),
    /** Log-odds every row starts from: the training rows' base rate. */
    base_score: z.number().refine(Number.isFinite, 'must be a finite number'),
    trees: z.array(TreeSchema),
  })
  .refine((artifact) => artifact.trees.every((tree) => tree.feature.every((feature) => feature < artifact.features)), 'a node splits on a feature the model does not have');
export type GbdtArtifact = z.infer<typeof ArtifactSchema>;
type Tree = z.infer<typeof TreeSchema>;

/** Every tree's nodes in flat typed arrays (left children as absolute indices, right ones after them), for fast walks. */
export interface GbdtModel {
  features: number;
  baseScore: number;
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  value: Float64Array;
}

/** A split is only made when both sides keep at least this much hessian (near-certain rows carry little). */
const MIN_CHILD_HESSIAN = 1e-3;

/** The first index of `sorted` whose value is greater than `value`. */
function upperBound(sorted: Float64Array, value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Bin edges of a column: values `<= edges[b]` (and above the edge before) fall in bin b, values
 * above the last edge in the last bin. Every distinct value gets its own bin when there are at
 * most `maxBins`; otherwise the edges are quantiles. An edge lies halfway between the last value
 * of its bin and the next value, so that unseen values between them go to the nearer side.
 */
function binEdges(column: Float64Array, maxBins: number): Float64Array {
  const sorted = Float64Array.from(column).sort();
  const edges: number[] = [];
  const addEdgeAfter = (index: number) => {
    const below = sorted[index];
    const aboveIndex = upperBound(sorted, below);
    if (aboveIndex >= sorted.length) return;
    const above = sorted[aboveIndex];
    const halfway = below + (above - below) / 2;
    const edge = halfway < above ? halfway : below;
    if (edges.length === 0 || edge > edges[edges.length - 1]) edges.push(edge);
  };
  let distinct = sorted.length === 0 ? 0 : 1;
  for (let i = 1; i < sorted.length && distinct <= maxBins; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  if (distinct <= maxBins) {
    for (let i = 0; i + 1 < sorted.length; i++) if (sorted[i + 1] !== sorted[i]) addEdgeAfter(i);
  } else {
    for (let bin = 1; bin < maxBins; bin++) addEdgeAfter(Math.max(0, Math.floor((bin * sorted.length) / maxBins) - 1));
  }
  return Float64Array.from(edges);
}

/** The bin of each value of `column` (see {@link binEdges}). */
function binColumn(column: Float64Array, edges: Float64Array): Uint8Array {
  const bins = new Uint8Array(column.length);
  for (let row = 0; row < column.length; row++) {
    const value = column[row];
    let low = 0;
    let high = edges.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (value <= edges[middle]) high = middle;
      else low = middle + 1;
    }
    bins[row] = low;
  }
  return bins;
}

/**
 * What growing a tree works over: binned features, their edges, each row's gradient and hessian,
 * and the node each row is in. Every pass goes over the rows in their own order (no permutation),
 * so that memory is read sequentially: random access to a million rows costs more than the sums.
 */
interface GrowingData {
  binned: Uint8Array[];
  edges: Float64Array[];
  /** Start of each feature's bins in a histogram. */
  offsets: Int32Array;
  totalBins: number;
  gradients: Float64Array;
  hessians: Float64Array;
  /** The node of the tree being grown each row is in. */
  nodeOf: Uint16Array;
  /** Per node of the level being split: the feature it splits on (-1: none), the last bin going left, its left child (the right one follows). */
  splitFeature: Int16Array;
  splitBin: Uint8Array;
  leftChild: Uint16Array;
  /** Per child of the level being split: where its histogram starts in the level's histograms (-1: none built). */
  histogramStart: Int32Array;
}

/** A node of the level being grown: its sums, and its histogram (gradient, hessian, rows per bin) when it may still split. */
interface OpenNode {
  id: number;
  gradient: number;
  hessian: number;
  rows: number;
  histogram: Float64Array | undefined;
}

/** Adds a row's gradient, hessian and count to the slot of each of its bins in the histogram starting at `base` of `histograms`. */
function accumulate(data: GrowingData, histograms: Float64Array, base: number, row: number): void {
  const { binned, offsets } = data;
  const gradient = data.gradients[row];
  const hessian = data.hessians[row];
  for (let feature = 0; feature < binned.length; feature++) {
    const slot = base + (offsets[feature] + binned[feature][row]) * 3;
    histograms[slot] += gradient;
    histograms[slot + 1] += hessian;
    histograms[slot + 2] += 1;
  }
}

interface Split {
  feature: number;
  bin: number;
  gain: number;
  /** Sums of the rows going left. */
  leftGradient: number;
  leftHessian: number;
  leftRows: number;
}

/** The split of most gain (the first of equal ones), or none that gains or keeps enough rows on both sides. */
function bestSplit(data: GrowingData, node: OpenNode, histogram: Float64Array, params: GbdtParams): Split | undefined {
  const { gradient, hessian, rows } = node;
  const parentScore = (gradient * gradient) / (hessian + params.l2);
  let best: Split | undefined;
  for (let feature = 0; feature < data.binned.length; feature++) {
    let leftGradient = 0;
    let leftHessian = 0;
    let leftRows = 0;
    const base = data.offsets[feature];
    for (let bin = 0; bin < data.edges[feature].length; bin++) {
      const slot = (base + bin) * 3;
      leftGradient += histogram[slot];
      leftHessian += histogram[slot + 1];
      leftRows += histogram[slot + 2];
      if (leftRows < params.minLeafRows || leftHessian < MIN_CHILD_HESSIAN) continue;
      const rightHessian = hessian - leftHessian;
      if (rows - leftRows < params.minLeafRows || rightHessian < MIN_CHILD_HESSIAN) break;
      const rightGradient = gradient - leftGradient;
      const gain = (leftGradient * leftGradient) / (leftHessian + params.l2) + (rightGradient * rightGradient) / (rightHessian + params.l2) - parentScore;
      if (gain > (best?.gain ?? 0)) best = { feature, bin, gain, leftGradient, leftHessian, leftRows };
    }
  }
  return best;
}

/**
 * Grows one tree level by level, then adds each leaf's value to its rows' scores. Per level, one
 * pass moves every row of a split node to its child and builds the histograms of the smaller
 * children; a larger child's histogram is its parent's minus its sibling's. Nodes of the last
 * level need no histogram: their sums come from their parent's split.
 */
function growTree(data: GrowingData, scores: Float64Array, params: GbdtParams): Tree {
  const { nodeOf, splitFeature, splitBin, leftChild } = data;
  const rows = nodeOf.length;
  const tree: Tree = { feature: [], threshold: [], left: [], value: [] };
  const addNode = () => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.value.push(0);
    return tree.feature.length - 1;
  };
  nodeOf.fill(0);
  const size = data.totalBins * 3;
  const rootHistogram = new Float64Array(size);
  let gradient = 0;
  let hessian = 0;
  for (let row = 0; row < rows; row++) {
    accumulate(data, rootHistogram, 0, row);
    gradient += data.gradients[row];
    hessian += data.hessians[row];
  }
  let level: OpenNode[] = [{ id: addNode(), gradient, hessian, rows, histogram: rootHistogram }];
  for (let depth = 0; level.length > 0; depth++) {
    const next: OpenNode[] = [];
    const splits: { histogram: Float64Array; smaller: OpenNode | undefined; larger: OpenNode }[] = [];
    splitFeature.fill(-1);
    for (const node of level) {
      const split = depth < params.depth && node.histogram !== undefined ? bestSplit(data, node, node.histogram, params) : undefined;
      if (split === undefined) {
        tree.value[node.id] = (-node.gradient / (node.hessian + params.l2)) * params.learningRate;
        continue;
      }
      const left: OpenNode = { id: addNode(), gradient: split.leftGradient, hessian: split.leftHessian, rows: split.leftRows, histogram: undefined };
      const right: OpenNode = { id: addNode(), gradient: node.gradient - split.leftGradient, hessian: node.hessian - split.leftHessian, rows: node.rows - split.leftRows, histogram: undefined };
      tree.feature[node.id] = split.feature;
      tree.threshold[node.id] = data.edges[split.feature][split.bin];
      tree.left[node.id] = left.id;
      splitFeature[node.id] = split.feature;
      splitBin[node.id] = split.bin;
      leftChild[node.id] = left.id;
      const [smaller, larger] = left.rows <= right.rows ? [left, right] : [right, left];
      // Children that may split need histograms: the smaller one's is built in the pass below.
      splits.push({ histogram: node.histogram as Float64Array, smaller: depth + 1 < params.depth ? smaller : undefined, larger });
      next.push(left, right);
    }
    if (splits.length === 0) break;
    const scanned = splits.flatMap(({ smaller }) => (smaller === undefined ? [] : [smaller]));
    const histograms = new Float64Array(scanned.length * size);
    data.histogramStart.fill(-1);
    scanned.forEach((child, k) => (data.histogramStart[child.id] = k * size));
    for (let row = 0; row < rows; row++) {
      const node = nodeOf[row];
      const feature = splitFeature[node];
      if (feature < 0) continue;
      const child = data.binned[feature][row] <= splitBin[node] ? leftChild[node] : leftChild[node] + 1;
      nodeOf[row] = child;
      const start = data.histogramStart[child];
      if (start >= 0) accumulate(data, histograms, start, row);
    }
    for (const { histogram, smaller, larger } of splits) {
      if (smaller === undefined) continue;
      smaller.histogram = histograms.subarray(data.histogramStart[smaller.id], data.histogramStart[smaller.id] + size);
      for (let slot = 0; slot < size; slot++) histogram[slot] -= smaller.histogram[slot];
      larger.histogram = histogram;
    }
    level = next;
  }
  for (let row = 0; row < rows; row++) scores[row] += tree.value[nodeOf[row]];
  return tree;
}

function fit(training: LabelledRows, params: GbdtParams): GbdtArtifact {
  const { labels, columns } = training;
  const rows = labels.length;
  const edges = columns.map((column) => binEdges(column, params.bins));
  const offsets = new Int32Array(columns.length);
  let totalBins = 0;
  edges.forEach((featureEdges, feature) => {
    offsets[feature] = totalBins;
    totalBins += featureEdges.length + 1;
  });
  const data: GrowingData = {
    binned: columns.map((column, feature) => binColumn(column, edges[feature])),
    edges,
    offsets,
    totalBins,
    gradients: new Float64Array(rows),
    hessians: new Float64Array(rows),
    nodeOf: new Uint16Array(rows),
    // A tree of depth d has fewer than 2^(d+1) nodes.
    splitFeature: new Int16Array(2 ** (params.depth + 1)),
    splitBin: new Uint8Array(2 ** (params.depth + 1)),
    leftChild: new Uint16Array(2 ** (params.depth + 1)),
    histogramStart: new Int32Array(2 ** (params.depth + 1)),
  };
  let positives = 0;
  for (const label of labels) positives += label;
  const baseScore = Math.log(positives / (rows - positives));
  const scores = new Float64Array(rows).fill(baseScore);
  const trees: Tree[] = [];
  for (let round = 0; round < params.rounds; round++) {
    for (let row = 0; row < rows; row++) {
      const p = sigmoid(scores[row]);
      data.gradients[row] = p - labels[row];
      data.hessians[row] = p * (1 - p);
    }
    trees.push(growTree(data, scores, params));
  }
  return { kind: 'gbdt', features: columns.length, base_score: baseScore, trees };
}

function load(artifact: unknown): GbdtModel {
  const { features, base_score: baseScore, trees } = parseArtifact(ArtifactSchema, artifact, 'gbdt');
  const roots = new Int32Array(trees.length);
  let nodes = 0;
  trees.forEach((tree, index) => {
    roots[index] = nodes;
    nodes += tree.feature.length;
  });
  const model: GbdtModel = { features, baseScore, roots, feature: new Int32Array(nodes), threshold: new Float64Array(nodes), left: new Int32Array(nodes), value: new Float64Array(nodes) };
  trees.forEach((tree, index) => {
    const root = roots[index];
    model.feature.set(tree.feature, root);
    model.threshold.set(tree.threshold, root);
    model.left.set(tree.left.map((child) => (child < 0 ? -1 : root + child)), root);
    model.value.set(tree.value, root);
  });
  return model;
}

function predictProbability(model: GbdtModel, columns: readonly Float64Array[]): Float64Array {
  if (columns.length !== model.features) throw new InputError(`gbdt: the model was fitted on ${model.features} features, got ${columns.length}`);
  const rows = columns[0]?.length ?? 0;
  const { roots, feature, threshold, left, value } = model;
  const probabilities = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let score = model.baseScore;
    for (let tree = 0; tree < roots.length; tree++) {
      let node = roots[tree];
      while (feature[node] >= 0) node = columns[feature[node]][row] <= threshold[node] ? left[node] : left[node] + 1;
      score += value[node];
    }
    probabilities[row] = sigmoid(score);
  }
  return probabilities;
}

export const gbdtModel: SupervisedModel<GbdtParams, GbdtArtifact, GbdtModel> = {
  name: 'gbdt',
  params: ParamsSchema,
  fit,
  load,
  predictProbability,
};
