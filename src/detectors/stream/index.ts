/** The streaming detector: seasonal robust z-scores with a fixed-size state per entity, checkpointable between runs. */
export { newStreamState, scoreStream, STREAM_DEFAULTS, STREAM_KIND, STREAM_STATE_LENGTH } from './kernel.js';
export type { StreamOptions, StreamResult } from './kernel.js';
