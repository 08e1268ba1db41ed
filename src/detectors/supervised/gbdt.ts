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

const TreeSchema = z
  .object({
    /** Per node: the feature it splits on, -1 for a leaf. */
    feature: z.array(z.number().int().min(-1)),
    /** Rows with `value <= threshold` go left. */
    threshold: z.array(z.number()),
    left: z.array(z.number().int().min(-1)),
    right: z.array(z.number().int().min(-1)),
    /** A leaf's contribution to the log-odds (learning rate included). */
    value: z.array(z.number().refine(Number.isFinite, 'must be a finite number')),
  })
  .refine((tree) => [tree.threshold, tree.left, tree.right, tree.value].every((column) => column.length === tree.feature.length) && tree.feature.length > 0, 'node arrays differ in length or are empty')
  // Children come after their parent, so a walk from node 0 always ends at a leaf.
  .refine((tree) => tree.feature.every((feature, node) => feature < 0 || (tree.left[node] > node && tree.right[node] > node && tree.left[node] < tree.feature.length && tree.right[node] < tree.feature.length)), 'a split node must point to later nodes');

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

/** Every tree's nodes in flat typed arrays (children as absolute indices), for fast walks. */
export interface GbdtModel {
  features: number;
  baseScore: number;
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
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

/** What growing a tree works over: binned features, their edges, each row's gradient and hessian. */
interface GrowingData {
  binned: Uint8Array[];
  edges: Float64Array[];
  /** Start of each feature's bins in a histogram. */
  offsets: Int32Array;
  totalBins: number;
  gradients: Float64Array;
  hessians: Float64Array;
  /** A permutation of the rows: each node owns a contiguous range of it. */
  order: Uint32Array;
  scratch: Uint32Array;
}

/** A node being grown: its rows `order[start..end)` and their histogram (gradient, hessian, rows per bin). */
interface OpenNode {
  id: number;
  start: number;
  end: number;
  histogram: Float64Array;
}

function histogramOf(data: GrowingData, start: number, end: number): Float64Array {
  const histogram = new Float64Array(data.totalBins * 3);
  const { binned, offsets, gradients, hessians, order } = data;
  for (let i = start; i < end; i++) {
    const row = order[i];
    const gradient = gradients[row];
    const hessian = hessians[row];
    for (let feature = 0; feature < binned.length; feature++) {
      const slot = (offsets[feature] + binned[feature][row]) * 3;
      histogram[slot] += gradient;
      histogram[slot + 1] += hessian;
      histogram[slot + 2] += 1;
    }
  }
  return histogram;
}

/** Sums of gradient and hessian of a node, from its first feature's bins. */
function totals(data: GrowingData, histogram: Float64Array): { gradient: number; hessian: number } {
  let gradient = 0;
  let hessian = 0;
  for (let bin = 0; bin < data.edges[0].length + 1; bin++) {
    gradient += histogram[bin * 3];
    hessian += histogram[bin * 3 + 1];
  }
  return { gradient, hessian };
}

interface Split {
  feature: number;
  bin: number;
  gain: number;
}

/** The split of most gain (the first of equal ones), or none that gains or keeps enough rows on both sides. */
function bestSplit(data: GrowingData, node: OpenNode, params: GbdtParams): Split | undefined {
  const { histogram } = node;
  const rows = node.end - node.start;
  const { gradient, hessian } = totals(data, histogram);
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
      if (gain > (best?.gain ?? 0)) best = { feature, bin, gain };
    }
  }
  return best;
}

/** Moves the node's rows with bin <= `split.bin` to the front of its range; returns where the right child starts. */
function partition(data: GrowingData, node: OpenNode, split: Split): number {
  const { order, scratch } = data;
  const bins = data.binned[split.feature];
  let left = node.start;
  let right = 0;
  for (let i = node.start; i < node.end; i++) {
    const row = order[i];
    if (bins[row] <= split.bin) order[left++] = row;
    else scratch[right++] = row;
  }
  order.set(scratch.subarray(0, right), left);
  return left;
}

/** Grows one tree level by level, adding each leaf's value to its rows' scores. */
function growTree(data: GrowingData, scores: Float64Array, params: GbdtParams): Tree {
  const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const addNode = () => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(0);
    return tree.feature.length - 1;
  };
  let level: OpenNode[] = [{ id: addNode(), start: 0, end: data.order.length, histogram: histogramOf(data, 0, data.order.length) }];
  for (let depth = 0; level.length > 0; depth++) {
    const next: OpenNode[] = [];
    for (const node of level) {
      const split = depth < params.depth ? bestSplit(data, node, params) : undefined;
      if (split === undefined) {
        const { gradient, hessian } = totals(data, node.histogram);
        const value = (-gradient / (hessian + params.l2)) * params.learningRate;
        tree.value[node.id] = value;
        for (let i = node.start; i < node.end; i++) scores[data.order[i]] += value;
        continue;
      }
      const middle = partition(data, node, split);
      // Scan the smaller child; the larger one's histogram is the parent's minus it.
      const leftIsSmaller = middle - node.start <= node.end - middle;
      const smaller = leftIsSmaller ? histogramOf(data, node.start, middle) : histogramOf(data, middle, node.end);
      const larger = node.histogram;
      for (let slot = 0; slot < larger.length; slot++) larger[slot] -= smaller[slot];
      const left: OpenNode = { id: addNode(), start: node.start, end: middle, histogram: leftIsSmaller ? smaller : larger };
      const right: OpenNode = { id: addNode(), start: middle, end: node.end, histogram: leftIsSmaller ? larger : smaller };
      tree.feature[node.id] = split.feature;
      tree.threshold[node.id] = data.edges[split.feature][split.bin];
      tree.left[node.id] = left.id;
      tree.right[node.id] = right.id;
      next.push(left, right);
    }
    level = next;
  }
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
    order: Uint32Array.from({ length: rows }, (_, row) => row),
    scratch: new Uint32Array(rows),
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
  const model: GbdtModel = { features, baseScore, roots, feature: new Int32Array(nodes), threshold: new Float64Array(nodes), left: new Int32Array(nodes), right: new Int32Array(nodes), value: new Float64Array(nodes) };
  trees.forEach((tree, index) => {
    const root = roots[index];
    model.feature.set(tree.feature, root);
    model.threshold.set(tree.threshold, root);
    model.left.set(tree.left.map((child) => (child < 0 ? -1 : root + child)), root);
    model.right.set(tree.right.map((child) => (child < 0 ? -1 : root + child)), root);
    model.value.set(tree.value, root);
  });
  return model;
}

function predictProbability(model: GbdtModel, columns: readonly Float64Array[]): Float64Array {
  if (columns.length !== model.features) throw new InputError(`gbdt: the model was fitted on ${model.features} features, got ${columns.length}`);
  const rows = columns[0]?.length ?? 0;
  const { roots, feature, threshold, left, right, value } = model;
  const probabilities = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    let score = model.baseScore;
    for (let tree = 0; tree < roots.length; tree++) {
      let node = roots[tree];
      while (feature[node] >= 0) node = columns[feature[node]][row] <= threshold[node] ? left[node] : right[node];
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
