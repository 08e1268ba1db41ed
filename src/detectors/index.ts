export { dbscan, nearestCoreDistance } from './dbscan/index.js';
export type { DbscanOptions, DbscanResult } from './dbscan/index.js';
export { standardScale } from './scaling.js';
export type { StandardScaled } from './scaling.js';
export { explainByConditionalBands } from './explain.js';
export type { ConditionalBand, ExplainOptions } from './explain.js';
export {
  anomalyScores,
  averagePathLength,
  fitAndScoreIsolationForest,
  fitIsolationForest,
  isolationForestFromJSON,
  isolationForestToJSON,
  outlierLabels,
  scoreSamples,
} from './isolation-forest/index.js';
export type { FittedIsolationForest, IsolationForestJson, IsolationForestModel, IsolationForestOptions } from './isolation-forest/index.js';
export { arimaLabel, arimaOneStepPredictions, detectArimaAnomalies, seasonalPeriodOf } from './arima/index.js';
export type { ArimaCoefficients, ArimaModel, ArimaOptions, ArimaResult, ArimaSkipReason, OrderSearch } from './arima/index.js';
export { autoencoderFromJson, autoencoderToJson, scoreWithAutoencoder, trainAutoencoder } from './autoencoder/index.js';
export type { AutoencoderJson, AutoencoderModel, AutoencoderOptions, AutoencoderScores, AutoencoderTraining, ValueTransform } from './autoencoder/index.js';
export { fitRideTimeModel, RIDE_VERDICT, scoreRideTimes } from './conditional/index.js';
export type { RideColumns, RideTimeModel, RideTimeModelOptions, RideTimeScoreOptions, RideTimeScores } from './conditional/index.js';
export { detectVehiclePatterns } from './pattern/index.js';
export type { PatternKind, PatternOptions, PatternResult, VehiclePattern, VehicleTrips } from './pattern/index.js';
export { detectShallow, smoothByDistanceWeights } from './shallow/index.js';
export type { ShallowOptions, ShallowResult } from './shallow/index.js';
export { holdOut, noVerdicts, trainableDetector, TRAINABLE_DETECTORS } from './trainable/index.js';
export type { FeatureRows, FitOutcome, ModelMetrics, RowScores, TrainableDetector } from './trainable/index.js';
export { detectRecordColumns, detectSeries, formatValue, RECORD_DETECTORS, recordParams, scoreWithTrainedModel, SERIES_DETECTORS, seriesParams, streamReason, StreamParamsSchema } from './on-demand/index.js';
export type { RecordDetectorName, SeriesDetectorName, StreamParams, Verdicts } from './on-demand/index.js';
export { newStreamState, scoreStream, STREAM_DEFAULTS, STREAM_KIND, STREAM_STATE_LENGTH } from './stream/index.js';
export type { StreamOptions, StreamResult } from './stream/index.js';
export { NAB_PROFILES, nabFileScore, nabTotal, probationaryLength, scaledSigmoid } from './evaluation/index.js';
export type { NabFileScore, NabProfile, NabTotal, NabWeights, RowWindow } from './evaluation/index.js';
export {
  brierScore,
  calibrationTable,
  describeRange,
  featureColumns,
  fitSupervised,
  holdOutLabelled,
  isSupervised,
  logLoss,
  rocAuc,
  rowProblem,
  supervisedModel,
  SUPERVISED_MODELS,
} from './supervised/index.js';
export type { CalibrationBin, FeatureContract, FeatureRange, LabelledRows, LogisticModel, SupervisedFitOutcome, SupervisedModel } from './supervised/index.js';
export { driftFrom, kolmogorovSmirnov, populationStabilityIndex, referenceDistribution } from './drift/index.js';
export type { DriftMeasure, ReferenceDistribution } from './drift/index.js';
