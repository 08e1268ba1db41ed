/** ARIMA anomaly detection on daily series: order choice (seasonal terms included), exact fitting and one-step predictions. */
export { arimaLabel, arimaOneStepPredictions, detectArimaAnomalies, seasonalPeriodOf } from './detect.js';
export type { ArimaCoefficients, ArimaModel, ArimaOptions, ArimaResult, ArimaSkipReason } from './detect.js';
export type { OrderSearch } from './fit.js';
