/** rb-aioutliers' autoencoder with a k-sigma threshold: training, scoring and the model as JSON. */
export { AUTOENCODER_DEFAULTS, trainAutoencoder } from './train.js';
export type { AutoencoderOptions, AutoencoderTraining } from './train.js';
export { scoreWithAutoencoder } from './score.js';
export type { AutoencoderScores } from './score.js';
export type { AutoencoderModel, ValueTransform } from './model.js';
export { autoencoderFromJson, autoencoderToJson } from './model-json.js';
export type { AutoencoderJson } from './model-json.js';
