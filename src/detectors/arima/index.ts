/** ARIMA anomaly detection on daily series: order choice, exact fitting and one-step predictions. */
export { arimaOneStepPredictions, detectArimaAnomalies } from './detect.js';
export type { ArimaCoefficients, ArimaModel, ArimaOptions, ArimaResult, ArimaSkipReason } from './detect.js';
export type { OrderSearch } from './fit.js';
