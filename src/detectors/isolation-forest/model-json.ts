/** The fitted model to and from JSON, checked on the way in so that scoring cannot misbehave. */
import { InputError } from '../../errors.js';
import { MAX_FEATURES, type IsolationForestModel } from './model.js';

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

const MODEL_KIND = 'isolation-forest';
const MODEL_VERSION = 1;

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
  // Fitting grows no tree deeper than this; a walk takes its tree's depth in steps.
  const maxDepth = Math.ceil(Math.log2(Math.max(model.sampleSize, 2)));
  const depth = new Int32Array(nodeCount);
  for (let tree = 0; tree + 1 < treeStart.length; tree++) {
    const end = treeStart[tree + 1];
    if (end <= treeStart[tree]) return `tree ${tree} is empty`;
    for (let node = treeStart[tree]; node < end; node++) {
      const isLeaf = feature[node] === -1;
      // Children after their parent and inside its tree: every walk ends at a leaf of the same tree.
      const wellFormed = isLeaf ? left[node] === -1 && leafSize[node] >= 1 : left[node] > node && left[node] + 1 < end;
      if (!wellFormed) return `${isLeaf ? 'leaf' : 'split node'} ${node} is malformed`;
      if (depth[node] > maxDepth) return `tree ${tree} is deeper than the ${maxDepth} levels a sample of ${model.sampleSize} grows`;
      if (!isLeaf) depth[left[node]] = depth[left[node] + 1] = depth[node] + 1;
    }
  }
  return null;
}
