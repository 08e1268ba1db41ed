/** The trained autoencoder to and from JSON, checked on the way in so that scoring cannot misbehave. */
import { InputError } from '../../errors.js';
import { FLAT_LINE_HOURS } from './flat-line.js';
import { TIME_FEATURES, type AutoencoderModel } from './model.js';
import { parameterCount } from './network.js';

/** {@link AutoencoderModel} with a number array instead of the Float64Array, kind and version, for JSON. */
export type AutoencoderJson = Omit<AutoencoderModel, 'parameters'> & {
  kind: typeof MODEL_KIND;
  version: typeof MODEL_VERSION;
  parameters: number[];
};

const MODEL_KIND = 'autoencoder';
/** 2: with flat-line limits. */
const MODEL_VERSION = 2;
/** Widest layer a model may declare: bounds the memory a corrupt file can make scoring allocate. */
const MAX_LAYER_WIDTH = 4096;
const MAX_LAYERS = 16;

/** The model as JSON-ready plain data (parameters keep every bit: JSON numbers round-trip doubles). */
export function autoencoderToJson(model: AutoencoderModel): AutoencoderJson {
  return {
    kind: MODEL_KIND,
    version: MODEL_VERSION,
    layerSizes: [...model.layerSizes],
    parameters: Array.from(model.parameters),
    valueTransform: model.valueTransform,
    scaleMin: model.scaleMin,
    scaleMax: model.scaleMax,
    scoringStride: model.scoringStride,
    errorMean: model.errorMean,
    errorStd: model.errorStd,
    sigmas: model.sigmas,
    flatLineWindow: model.flatLineWindow,
    flatLineLimits: [...model.flatLineLimits],
  };
}

/**
 * A model from {@link autoencoderToJson} output (parsed JSON), checked field by field so that a
 * corrupt or hand-edited file is refused with what is wrong rather than scored into NaNs.
 *
 * @example
 * const model = autoencoderFromJson(JSON.parse(await readFile('sensor-07.json', 'utf8')));
 * @throws InputError naming the first field that is missing or wrong.
 */
export function autoencoderFromJson(value: unknown): AutoencoderModel {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalidModel('expected an object');
  const json = value as Record<string, unknown>;
  if (json.kind !== MODEL_KIND || json.version !== MODEL_VERSION) {
    invalidModel(`expected kind "${MODEL_KIND}" version ${MODEL_VERSION}, got kind "${String(json.kind)}" version ${String(json.version)}`);
  }
  const layerSizes = json.layerSizes;
  if (
    !Array.isArray(layerSizes) ||
    layerSizes.length < 3 ||
    layerSizes.length > MAX_LAYERS ||
    !layerSizes.every((width) => Number.isInteger(width) && width >= 1 && width <= MAX_LAYER_WIDTH)
  ) {
    invalidModel(`layerSizes must be 3 to ${MAX_LAYERS} whole numbers in 1..${MAX_LAYER_WIDTH}`);
  }
  const windowSize = layerSizes[layerSizes.length - 1] as number;
  if (windowSize < 2 || layerSizes[0] !== windowSize + TIME_FEATURES) {
    invalidModel(`layerSizes must start with the window plus ${TIME_FEATURES} time inputs and end with the window (>= 2), got [${layerSizes.join(', ')}]`);
  }
  const expectedParameters = parameterCount(layerSizes as number[]);
  const parameters = json.parameters;
  if (!Array.isArray(parameters) || parameters.length !== expectedParameters) {
    const got = Array.isArray(parameters) ? `${parameters.length} numbers` : typeof parameters;
    invalidModel(`parameters must be ${expectedParameters} numbers for layers [${layerSizes.join(', ')}], got ${got}`);
  }
  const badParameter = parameters.findIndex((item) => typeof item !== 'number' || !Number.isFinite(item));
  if (badParameter >= 0) invalidModel(`parameters[${badParameter}] must be a finite number, got ${JSON.stringify(parameters[badParameter])}`);
  if (json.valueTransform !== 'log1p' && json.valueTransform !== 'none') {
    invalidModel(`valueTransform must be "log1p" or "none", got ${JSON.stringify(json.valueTransform)}`);
  }
  const number = (name: string, isValid: (field: number) => boolean, requirement: string): number => {
    const field = json[name];
    if (typeof field === 'number' && Number.isFinite(field) && isValid(field)) return field;
    return invalidModel(`${name} must be ${requirement}, got ${JSON.stringify(field)}`);
  };
  const scaleMin = number('scaleMin', () => true, 'a finite number');
  const limits = json.flatLineLimits;
  if (!Array.isArray(limits) || limits.length !== FLAT_LINE_HOURS || !limits.every((limit) => typeof limit === 'number' && Number.isFinite(limit) && limit >= 0)) {
    invalidModel(`flatLineLimits must be ${FLAT_LINE_HOURS} finite numbers >= 0, one per hour`);
  }
  return {
    layerSizes: [...(layerSizes as number[])],
    parameters: Float64Array.from(parameters as number[]),
    valueTransform: json.valueTransform,
    scaleMin,
    scaleMax: number('scaleMax', (field) => field > scaleMin, `a finite number above scaleMin (${scaleMin})`),
    scoringStride: number('scoringStride', (field) => Number.isInteger(field) && field >= 1 && field <= windowSize, `a whole number in 1..${windowSize}`),
    errorMean: number('errorMean', (field) => field >= 0, 'a finite number >= 0'),
    errorStd: number('errorStd', (field) => field > 0, 'a finite number > 0'),
    sigmas: number('sigmas', (field) => field > 0, 'a finite number > 0'),
    flatLineWindow: number('flatLineWindow', (field) => Number.isInteger(field) && field >= 2 && field <= MAX_LAYER_WIDTH, `a whole number in 2..${MAX_LAYER_WIDTH}`),
    flatLineLimits: [...(limits as number[])],
  };
}

function invalidModel(problem: string): never {
  throw new InputError(`autoencoder model: ${problem}`);
}
