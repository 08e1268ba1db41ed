/**
 * ARIMA anomaly detection on one daily series (one entity): fit an ARIMA(p, d, q) with a mean, predict
 * every day from the days before it (the exact Kalman filter, as statsmodels' `fittedvalues`), and flag
 * days outside the prediction interval. This is what the reference pipeline does with statsmodels'
 * `ARIMA(y, order, trend='c').fit()` per airport; see docs/ARIMA.md for the measured parity.
 *
 * As in the reference, the parameters are estimated once on the whole series; each prediction then
 * uses only the observations before its day. With a `period` (7 for daily series, 24 hourly, 48
 * half-hourly: {@link seasonalPeriodOf}), the search also offers a seasonal AR(1) or MA(1) term at
 * that period, kept only when it lowers the AIC. Pure: typed arrays in, typed arrays out, deterministic.
 */
import { InputError } from '../../errors.js';
import { createWorkspace, oneStepPredictions, setCoefficients } from './kalman.js';
import {
  aic,
  difference,
  fitArma,
  isConstant,
  kpssDifferencingOrder,
  multiplySeasonal,
  seasonalDifference,
  seasonalDifferencingOrder,
  parameterCount,
  searchArmaOrder,
  type ArmaFit,
  type OrderSearch,
} from './fit.js';

/** Options of {@link detectArimaAnomalies}. */
export interface ArimaOptions {
  /** Largest AR order of the search (default 5). */
  maxP?: number;
  /** Largest MA order of the search (default 5). */
  maxQ?: number;
  /** Largest number of differences the KPSS test may choose (0, 1 or 2; default 1). */
  maxD?: number;
  /** A fixed order [p, d, q]: skips the search. */
  order?: readonly [number, number, number];
  /** How (p, q) is searched by AIC: 'stepwise' (default, as pmdarima's auto_arima) or every order ('grid'). */
  search?: OrderSearch;
  /** Half-width of the prediction interval in standard deviations (default 1.959964, i.e. 95%; 3 for "3 sigma"). */
  intervalSigmas?: number;
  /** Fewest observed (non-NaN) values to fit a model at all (default 30). */
  minHistory?: number;
  /**
   * Season length in points (7 for a weekly cycle of daily values; default 0: no seasonal terms).
   * The search then tries a seasonal AR(1) or MA(1) term at this lag on the order it chose, and keeps
   * it only when the AIC falls. Ignored with a fixed `order`.
   */
  period?: number;
}

/**
 * A fitted model, in statsmodels' conventions: (1 - Σ ar_i B^i)(w_t - mean) = (1 + Σ ma_j B^j) e_t with
 * w = Δ^d y and e_t ~ N(0, sigma2). For d = 0 `mean` is the series' mean (statsmodels' `const`); for
 * d = 1 it is the drift (mean daily change); for d = 2 there is none (0).
 */
export interface ArimaModel {
  order: [p: number, d: number, q: number];
  ar: Float64Array;
  ma: Float64Array;
  /**
   * Multiplicative seasonal terms, null when none: statsmodels' `seasonal_order=(ar.length,
   * differences, ma.length, period)`, i.e. (1 - Σ ar_i B^i)(1 - Σ sar_k B^(k period)) on
   * w = Δ^d (1 - B^period)^differences y, and likewise for the MA side.
   */
  seasonal: { period: number; differences: number; ar: Float64Array; ma: Float64Array } | null;
  mean: number;
  sigma2: number;
  logLikelihood: number;
  /** -2 logLikelihood + 2 (p + q + seasonal terms + mean + sigma2), as statsmodels counts. */
  aic: number;
  /** Observed values the likelihood is over (non-NaN values of Δ^d y). */
  observations: number;
}

/** Why a series got no model. */
export type ArimaSkipReason = 'too-short' | 'constant' | 'fit-failed';

/**
 * Result of {@link detectArimaAnomalies}, per point indexed like the input. Points without a
 * prediction (the whole series when skipped; the first d days, and days after a gap when d > 0) have
 * NaN expected/lower/upper; points whose value is missing also have NaN zScore/score. isAnomaly is 1
 * only for an observed value outside [lower, upper].
 */
export interface ArimaResult {
  /** Null when the series was skipped. */
  model: ArimaModel | null;
  /** Null when a model was fitted. */
  skipped: { reason: ArimaSkipReason; message: string } | null;
  /** One-step-ahead prediction from the values before each point. */
  expected: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  /** (value - expected) / prediction standard deviation. */
  zScore: Float64Array;
  /** Two-sided normal probability mass within |zScore|: 0.95 at 1.96 sigma, 0.9973 at 3 sigma. */
  score: Float64Array;
  isAnomaly: Uint8Array;
}

/** Model coefficients that {@link arimaOneStepPredictions} needs (seasonal terms optional). */
export type ArimaCoefficients = Pick<ArimaModel, 'order' | 'ar' | 'ma' | 'mean' | 'sigma2'> & Partial<Pick<ArimaModel, 'seasonal'>>;

/** Points per day of the granularities whose daily (and, for days, weekly) cycle the period follows. */
const SEASONAL_PERIODS: readonly { spacingMs: number; period: number }[] = [
  { spacingMs: 86_400_000, period: 7 },
  { spacingMs: 3_600_000, period: 24 },
  { spacingMs: 1_800_000, period: 48 },
];

/**
 * The season length for points `spacingMs` apart: 7 (a week of days), 24 (a day of hours), 48 (a
 * day of half hours); 0 (no seasonal terms) for any other spacing.
 *
 * @example
 * seasonalPeriodOf(86_400_000); // → 7
 */
export function seasonalPeriodOf(spacingMs: number): number {
  return SEASONAL_PERIODS.find((granularity) => granularity.spacingMs === spacingMs)?.period ?? 0;
}

/** The model as people write it: `ARIMA(1,0,1)`, or `ARIMA(1,0,1)(1,0,0)[7]` with seasonal terms. */
export function arimaLabel(model: Pick<ArimaModel, 'order' | 'seasonal'>): string {
  const { seasonal } = model;
  const seasonalPart = seasonal === null ? '' : `(${seasonal.ar.length},${seasonal.differences},${seasonal.ma.length})[${seasonal.period}]`;
  return `ARIMA(${model.order.join(',')})${seasonalPart}`;
}

const DEFAULT_MAX_ORDER = 5;
const DEFAULT_MAX_D = 1;
/** Upper bound on maxP, maxQ and fixed p, q: beyond this the search is slow and AIC unreliable on daily series. */
const MAX_ORDER_LIMIT = 10;
const DEFAULT_INTERVAL_SIGMAS = 1.959963984540054;
const DEFAULT_MIN_HISTORY = 30;
/** The search only tries orders with at most one parameter per this many observations. */
const OBSERVATIONS_PER_PARAMETER = 4;
/** Longest season, a week of hours: the Kalman state grows with it, and each filter step's work with its square. */
const MAX_PERIOD = 168;

/**
 * Fits an ARIMA to `series` (by AIC over p <= maxP, q <= maxQ, d by KPSS, unless `order` is given)
 * and flags the points outside their one-step-ahead prediction interval.
 *
 * NaN values are missing days: the Kalman filter predicts them without using them, so they neither
 * bias the fit nor break the predictions after them (with d > 0, a day whose previous day is missing
 * has no prediction: y_t = y_{t-1} + Δy_t needs y_{t-1}). Series with fewer than `minHistory` observed
 * values (or too few for the model), constant series (also after differencing) and series no order could
 * be fitted to are returned with `skipped` set and all-NaN outputs instead of throwing.
 *
 * @example
 * const daily = new Float64Array(avgDelayByDay); // one airport, 181 days
 * const { expected, lower, upper, isAnomaly, model } = detectArimaAnomalies(daily, { intervalSigmas: 3 });
 * // model.order → e.g. [0, 0, 1]; isAnomaly[t] === 1 where daily[t] is outside [lower[t], upper[t]]
 * @throws InputError on invalid options, a series that is not a Float64Array, or infinite values.
 */
export function detectArimaAnomalies(series: Float64Array, options: ArimaOptions = {}): ArimaResult {
  const settings = validateOptions(options);
  if (!(series instanceof Float64Array)) throw new InputError('detectArimaAnomalies: series must be a Float64Array');
  let observed = 0;
  for (let t = 0; t < series.length; t++) {
    const value = series[t];
    if (value === Infinity || value === -Infinity) {
      throw new InputError(`detectArimaAnomalies: value ${value} at index ${t}; use NaN for a missing value`);
    }
    if (value === value) observed++;
  }
  if (observed < settings.minHistory) {
    const message = `${observed} observed values, fewer than minHistory ${settings.minHistory}`;
    return skippedResult(series.length, 'too-short', message);
  }
  if (isConstant(series)) return skippedResult(series.length, 'constant', 'all observed values are equal');

  const d = settings.order ? settings.order[1] : kpssDifferencingOrder(series, settings.maxD);
  let differenced = difference(series, d);
  // A strong cycle is differenced away (as auto.arima's nsdiffs); the AIC then picks the seasonal AR/MA terms.
  const seasonalDifferences = settings.order === undefined && settings.period > 0 ? seasonalDifferencingOrder(differenced, settings.period) : 0;
  if (seasonalDifferences > 0) differenced = seasonalDifference(differenced, settings.period);
  // Differencing twice removes any constant (as in statsmodels and R, no drift for d + D = 2).
  const withMean = d + seasonalDifferences < 2;
  let differencedObserved = 0;
  for (const value of differenced) if (value === value) differencedObserved++;
  const fewestParameters = settings.order
    ? parameterCount(settings.order[0], settings.order[2], withMean)
    : parameterCount(0, 0, withMean);
  if (differencedObserved <= fewestParameters) {
    return skippedResult(
      series.length,
      'too-short',
      `${differencedObserved} observed values after ${differencesText(d, seasonalDifferences)}, not more than the ${fewestParameters} parameters`,
    );
  }
  if (isConstant(differenced)) {
    return skippedResult(series.length, 'constant', `constant after ${differencesText(d, seasonalDifferences)}`);
  }
  const fit = settings.order
    ? fitArma(differenced, settings.order[0], settings.order[2], withMean, [])
    : searchArmaOrder(
        differenced,
        settings.maxP,
        settings.maxQ,
        withMean,
        Math.max(fewestParameters, Math.floor(differencedObserved / OBSERVATIONS_PER_PARAMETER)),
        settings.search,
        settings.period,
      );
  if (fit === null) return skippedResult(series.length, 'fit-failed', `no ARIMA with d = ${d} has a finite likelihood`);

  const model = toModel(fit, d, seasonalDifferences > 0 ? settings.period : 0, withMean, differencedObserved);
  return { model, skipped: null, ...flagPoints(series, model, settings.intervalSigmas) };
}

/**
 * One-step-ahead predictions of `series` and their variances for a given model (for instance
 * statsmodels' fitted params, or a model fitted on an earlier period), by the exact Kalman filter with
 * the stationary initial state. NaN where no prediction exists (first d points, after gaps when d > 0).
 *
 * @throws InputError when the AR part is not stationary or the orders do not match the coefficients.
 */
export function arimaOneStepPredictions(
  series: Float64Array,
  model: ArimaCoefficients,
): { expected: Float64Array; variance: Float64Array } {
  const [p, d, q] = model.order;
  if (model.ar.length !== p || model.ma.length !== q || !(d >= 0 && d <= 2)) {
    throw new InputError(
      `arimaOneStepPredictions: order ${model.order.join(',')} does not match ` +
        `${model.ar.length} ar and ${model.ma.length} ma coefficients`,
    );
  }
  const seasonal = model.seasonal ?? null;
  const period = seasonal?.period ?? 0;
  const [ar, ma] = seasonal === null
    ? [model.ar, model.ma]
    : [
        multiplySeasonal(model.ar, seasonal.ar, period, -1, new Float64Array(p + seasonal.ar.length * period)),
        multiplySeasonal(model.ma, seasonal.ma, period, 1, new Float64Array(q + seasonal.ma.length * period)),
      ];
  const seasonalDifferences = seasonal?.differences ?? 0;
  const differenced = seasonalDifferences > 0 ? seasonalDifference(difference(series, d), period) : difference(series, d);
  const differencedExpected = new Float64Array(differenced.length);
  const differencedVariance = new Float64Array(differenced.length);
  const workspace = createWorkspace(ar.length, ma.length, differenced.length);
  setCoefficients(workspace, ar, ma);
  if (!oneStepPredictions(differenced, workspace, model.mean, model.sigma2, differencedExpected, differencedVariance)) {
    throw new InputError('arimaOneStepPredictions: the AR coefficients are not stationary');
  }
  const expected = new Float64Array(series.length).fill(Number.NaN);
  const variance = new Float64Array(series.length).fill(Number.NaN);
  if (seasonalDifferences === 0) {
    for (let t = d; t < series.length; t++) {
      // y_t = Δ^d y_t + (the part of y_t fixed by the d previous values): y_{t-1}, or 2 y_{t-1} - y_{t-2}.
      const carried = d === 0 ? 0 : d === 1 ? series[t - 1] : 2 * series[t - 1] - series[t - 2];
      expected[t] = carried + differencedExpected[t - d];
      variance[t] = Number.isNaN(expected[t]) ? Number.NaN : differencedVariance[t - d];
    }
    return { expected, variance };
  }
  // y_t = w_t + Σ c_k y_{t-k}, with 1 - Σ c_k B^k = (1 - B)^d (1 - B^period): the part of y_t its past fixes.
  const carriedLags = differencingPolynomial(d, period);
  const lost = carriedLags.length;
  for (let t = lost; t < series.length; t++) {
    let carried = 0;
    for (let k = 0; k < lost; k++) carried += carriedLags[k] * series[t - 1 - k];
    expected[t] = carried + differencedExpected[t - lost];
    variance[t] = Number.isNaN(expected[t]) ? Number.NaN : differencedVariance[t - lost];
  }
  return { expected, variance };
}

/** c_1..c_(d + period) with 1 - Σ c_k B^k = (1 - B)^d (1 - B^period). */
function differencingPolynomial(d: number, period: number): Float64Array {
  // Coefficients of the polynomial itself, lag 0 first: (1 - B)^d, then times (1 - B^period).
  let polynomial = Float64Array.of(1);
  for (let k = 0; k < d; k++) polynomial = Float64Array.from({ length: polynomial.length + 1 }, (_, lag) => (polynomial[lag] ?? 0) - (polynomial[lag - 1] ?? 0));
  const seasonal = new Float64Array(polynomial.length + period);
  seasonal.set(polynomial);
  for (let lag = 0; lag < polynomial.length; lag++) seasonal[lag + period] -= polynomial[lag];
  return Float64Array.from(seasonal.subarray(1), (coefficient) => -coefficient);
}

function flagPoints(series: Float64Array, model: ArimaModel, sigmas: number) {
  const { expected, variance } = arimaOneStepPredictions(series, model);
  const n = series.length;
  const lower = new Float64Array(n);
  const upper = new Float64Array(n);
  const zScore = new Float64Array(n);
  const score = new Float64Array(n);
  const isAnomaly = new Uint8Array(n);
  for (let t = 0; t < n; t++) {
    const deviation = Math.sqrt(variance[t]);
    lower[t] = expected[t] - sigmas * deviation;
    upper[t] = expected[t] + sigmas * deviation;
    zScore[t] = (series[t] - expected[t]) / deviation;
    score[t] = 1 - complementaryErf(Math.abs(zScore[t]) / Math.SQRT2);
    isAnomaly[t] = series[t] < lower[t] || series[t] > upper[t] ? 1 : 0;
  }
  return { expected, lower, upper, zScore, score, isAnomaly };
}

/** Chebyshev coefficients of Numerical Recipes' erfc (relative error below 1.2e-7), lowest power first. */
const ERFC_COEFFICIENTS = [
  -1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223,
  0.17087277,
];

/** erfc(x); NaN in, NaN out. */
function complementaryErf(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  let polynomial = 0;
  for (let k = ERFC_COEFFICIENTS.length - 1; k >= 0; k--) polynomial = polynomial * t + ERFC_COEFFICIENTS[k];
  const tail = t * Math.exp(-z * z + polynomial);
  return x >= 0 ? tail : 2 - tail;
}

/** "1 difference(s)", "0 difference(s) and a seasonal one". */
function differencesText(d: number, seasonalDifferences: number): string {
  return `${d} difference(s)${seasonalDifferences > 0 ? ' and a seasonal one' : ''}`;
}

/** `differencedPeriod`: the period of a seasonal difference (0: none). */
function toModel(fit: ArmaFit, d: number, differencedPeriod: number, withMean: boolean, observations: number): ArimaModel {
  const period = fit.seasonal?.period ?? differencedPeriod;
  return {
    order: [fit.p, d, fit.q],
    ar: fit.ar,
    ma: fit.ma,
    seasonal: period === 0 ? null : { period, differences: differencedPeriod > 0 ? 1 : 0, ar: fit.seasonalAr, ma: fit.seasonalMa },
    mean: withMean ? fit.mean : 0,
    sigma2: fit.sigma2,
    logLikelihood: fit.logLikelihood,
    aic: aic(fit, withMean),
    observations,
  };
}

function skippedResult(n: number, reason: ArimaSkipReason, message: string): ArimaResult {
  const missing = () => new Float64Array(n).fill(Number.NaN);
  return {
    model: null,
    skipped: { reason, message },
    expected: missing(),
    lower: missing(),
    upper: missing(),
    zScore: missing(),
    score: missing(),
    isAnomaly: new Uint8Array(n),
  };
}

function validateOptions(options: ArimaOptions) {
  const orderBound = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 0 || value > MAX_ORDER_LIMIT) {
      throw new InputError(`detectArimaAnomalies: ${name} must be an integer in 0..${MAX_ORDER_LIMIT}, got ${value}`);
    }
    return value;
  };
  const maxP = orderBound('maxP', options.maxP ?? DEFAULT_MAX_ORDER);
  const maxQ = orderBound('maxQ', options.maxQ ?? DEFAULT_MAX_ORDER);
  const maxD = options.maxD ?? DEFAULT_MAX_D;
  if (!Number.isInteger(maxD) || maxD < 0 || maxD > 2) {
    throw new InputError(`detectArimaAnomalies: maxD must be 0, 1 or 2, got ${maxD}`);
  }
  let order: [number, number, number] | undefined;
  if (options.order !== undefined) {
    if (!Array.isArray(options.order) || options.order.length !== 3) {
      throw new InputError('detectArimaAnomalies: order must be [p, d, q]');
    }
    const [p, d, q] = options.order;
    if (!Number.isInteger(d) || d < 0 || d > 2) {
      throw new InputError(`detectArimaAnomalies: order d must be 0, 1 or 2, got ${d}`);
    }
    order = [orderBound('order p', p), d, orderBound('order q', q)];
  }
  const intervalSigmas = options.intervalSigmas ?? DEFAULT_INTERVAL_SIGMAS;
  if (typeof intervalSigmas !== 'number' || !Number.isFinite(intervalSigmas) || intervalSigmas <= 0) {
    throw new InputError(`detectArimaAnomalies: intervalSigmas must be a finite number > 0, got ${intervalSigmas}`);
  }
  const search = options.search ?? 'stepwise';
  if (search !== 'stepwise' && search !== 'grid') {
    throw new InputError(`detectArimaAnomalies: search must be 'stepwise' or 'grid', got ${String(search)}`);
  }
  const minHistory = options.minHistory ?? DEFAULT_MIN_HISTORY;
  if (!Number.isInteger(minHistory) || minHistory < 2) {
    throw new InputError(`detectArimaAnomalies: minHistory must be an integer >= 2, got ${minHistory}`);
  }
  const period = options.period ?? 0;
  if (!Number.isInteger(period) || period === 1 || period < 0 || period > MAX_PERIOD) {
    throw new InputError(`detectArimaAnomalies: period must be 0 (no seasonal terms) or an integer in 2..${MAX_PERIOD}, got ${period}`);
  }
  return { maxP, maxQ, maxD, order, search, intervalSigmas, minHistory, period };
}
