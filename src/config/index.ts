export { loadConfig, parseConfigText, DEFAULT_CONFIG_FILE } from './load.js';
export type { LoadedConfig, LoadConfigOptions } from './load.js';
export { DatasetSchema, DetourConfigSchema, isRecordStep, scoredFeatures, TablePipelineSchema, trainStepFor } from './schema.js';
export type {
  BusConfig,
  ApiConfig,
  ApiTokenConfig,
  DatasetConfig,
  DetectStepConfig,
  DetourConfig,
  ExpectationConfig,
  JoinConfig,
  LivenessConfig,
  PredictStepConfig,
  MonitorConfig,
  AlarmEmailConfig,
  RecordStepConfig,
  RetryConfig,
  ScheduleConfig,
  SeriesStepConfig,
  StreamStepConfig,
  TablePipelineConfig,
  TrainStepConfig,
} from './schema.js';
export { assertEnvName, DEFAULT_ENV, envNameProblem } from './env-name.js';
export { configJsonSchema } from './json-schema.js';
export { writeDefaultConfig, SCHEMA_FILE } from './init.js';
