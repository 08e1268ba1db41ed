/**
 * Maximum-likelihood fitting of ARMA(p, q) with a mean, and the choice of an order: d by repeated KPSS
 * tests (as pmdarima's and R's `ndiffs`), then (p, q) by AIC, stepwise or over the whole grid, then
 * (with a period) a seasonal AR(1) or MA(1) term at that period when it lowers the AIC.
 *
 * The optimiser works on unconstrained values that map to partial autocorrelations in (-1, 1), hence
 * always to a stationary AR and an invertible MA part (statsmodels' `enforce_stationarity` and
 * `enforce_invertibility` transform). Mean and sigma2 are profiled out exactly, so the optimiser only
 * sees p + q dimensions.
 */
import {
  createWorkspace,
  oneStepPredictions,
  profileLikelihood,
  setCoefficients,
  solveAugmentedSystem,
} from './kalman.js';

/**
 * Multiplicative seasonal terms, as statsmodels' `seasonal_order=(P, 0, Q, period)`:
 * (1 - Σ ar_i B^i)(1 - Σ sar_k B^(k period)) w_t = (1 + Σ ma_j B^j)(1 + Σ sma_k B^(k period)) e_t.
 */
export interface SeasonalOrder {
  period: number;
  p: number;
  q: number;
}

/** A fitted ARMA on the (differenced) series. */
export interface ArmaFit {
  p: number;
  q: number;
  ar: Float64Array;
  ma: Float64Array;
  /** Seasonal terms (null: none) and their coefficients, P and Q of them. */
  seasonal: SeasonalOrder | null;
  seasonalAr: Float64Array;
  seasonalMa: Float64Array;
  mean: number;
  sigma2: number;
  logLikelihood: number;
  /** Unconstrained optimiser coordinates of the fit, reused to warm-start larger orders. */
  unconstrained: Float64Array;
}

/** Lag products shared by the start values of every order of one series (Hannan-Rissanen). */
interface StartValueBasis {
  maxP: number;
  maxQ: number;
  /** Gram matrix of the regressors [y_{t-1}..y_{t-maxP}, e_{t-1}..e_{t-maxQ}] and their products with y_t. */
  gram: Float64Array;
  crossWithTarget: Float64Array;
}

/**
 * Levenberg-Marquardt stops when an iteration raises the log-likelihood by less than a tolerance (the
 * log-likelihood is -n/2 log(sum of squares) + constant, so this is a relative change of the sum):
 * a precise one for the returned model, a loose one while comparing orders, where AIC differences of
 * a few thousandths do not matter and most of the search time would go into the last digits.
 */
const PRECISE_TOLERANCE = 1e-7;
const SEARCH_TOLERANCE = 1e-4;
/**
 * Iteration cap, statsmodels' `maxiter` default. Over-parameterised orders can creep along a ridge
 * towards a unit MA root for hundreds of iterations, gaining a few hundredths of a log-likelihood
 * unit; capping them keeps the search fast and only affects orders AIC rarely picks.
 */
const MAX_ITERATIONS = 50;
/** Marquardt damping λ: start, bounds, and the factor it grows by on a rejected step (shrinks on an accepted one). */
const INITIAL_DAMPING = 1e-3;
const MIN_DAMPING = 1e-12;
const MAX_DAMPING = 1e10;
const DAMPING_GROWTH = 10;
/** Forward-difference step for the Jacobian, about sqrt(machine epsilon). */
const DIFFERENCE_STEP = 1e-7;
/** KPSS 5% critical value for level stationarity (Kwiatkowski et al. 1992, table 1). */
const KPSS_CRITICAL_5PCT = 0.463;

// ---------------------------------------------------------------------------------------------
// Parameter transform

/**
 * Maps unconstrained values to the coefficients of a stationary AR polynomial: x -> partial
 * autocorrelation x / sqrt(1 + x^2), then Durbin-Levinson. `scratch` has at least `count` entries.
 */
function constrainPolynomial(
  unconstrained: Float64Array,
  offset: number,
  count: number,
  out: Float64Array,
  scratch: Float64Array,
): void {
  for (let k = 0; k < count; k++) {
    const x = unconstrained[offset + k];
    const partial = x / Math.sqrt(1 + x * x);
    for (let i = 0; i < k; i++) scratch[i] = out[i] - partial * out[k - 1 - i];
    for (let i = 0; i < k; i++) out[i] = scratch[i];
    out[k] = partial;
  }
}

/** Inverse of {@link constrainPolynomial}; null when the polynomial is not (comfortably) stationary. */
function unconstrainPolynomial(coefficients: Float64Array): Float64Array | null {
  const count = coefficients.length;
  const current = Float64Array.from(coefficients);
  const unconstrained = new Float64Array(count);
  for (let k = count - 1; k >= 0; k--) {
    const partial = current[k];
    // Starts right at the boundary leave the optimiser nowhere to go.
    if (!(Math.abs(partial) < 0.99)) return null;
    unconstrained[k] = partial / Math.sqrt(1 - partial * partial);
    const denominator = 1 - partial * partial;
    const previous = current.slice(0, k);
    for (let i = 0; i < k; i++) current[i] = (previous[i] + partial * previous[k - 1 - i]) / denominator;
  }
  return unconstrained;
}

/** Unconstrained coordinates -> ar (stationary) and ma (invertible: 1 + Σ ma_j B^j has the AR form of -ma). */
function constrainCoefficients(
  unconstrained: Float64Array,
  p: number,
  q: number,
  ar: Float64Array,
  ma: Float64Array,
  scratch: Float64Array,
): void {
  constrainPolynomial(unconstrained, 0, p, ar, scratch);
  constrainPolynomial(unconstrained, p, q, ma, scratch);
  for (let j = 0; j < q; j++) ma[j] = -ma[j];
}

function unconstrainCoefficients(ar: Float64Array, ma: Float64Array): Float64Array | null {
  const arPart = unconstrainPolynomial(ar);
  const maPart = unconstrainPolynomial(ma.map((value) => -value));
  if (arPart === null || maPart === null) return null;
  const unconstrained = new Float64Array(ar.length + ma.length);
  unconstrained.set(arPart);
  unconstrained.set(maPart, ar.length);
  return unconstrained;
}

// ---------------------------------------------------------------------------------------------
// Start values

/** Mean of the observed values. */
function observedMean(series: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (const value of series) {
    if (value === value) {
      sum += value;
      count++;
    }
  }
  return count > 0 ? sum / count : Number.NaN;
}

/**
 * Hannan-Rissanen regressors for all orders up to (maxP, maxQ): a long AR fitted by Yule-Walker
 * gives innovation estimates e_t, then y_t is regressed on its own lags and lagged e_t. Missing
 * values are replaced by the mean here (this only affects where the optimiser starts).
 */
function startValueBasis(series: Float64Array, maxP: number, maxQ: number): StartValueBasis {
  const n = series.length;
  const mean = observedMean(series);
  const centered = Float64Array.from(series, (value) => (value === value ? value - mean : 0));
  const longOrder = Math.max(1, Math.min(Math.floor(n / 4), Math.max(maxP + maxQ, Math.ceil(10 * Math.log10(n)))));
  const longAr = yuleWalker(centered, longOrder);
  const innovations = new Float64Array(n);
  for (let t = longOrder; t < n; t++) {
    let prediction = 0;
    for (let i = 0; i < longOrder; i++) prediction += longAr[i] * centered[t - 1 - i];
    innovations[t] = centered[t] - prediction;
  }
  const width = maxP + maxQ;
  const gram = new Float64Array(width * width);
  const crossWithTarget = new Float64Array(width);
  const regressors = new Float64Array(width);
  for (let t = longOrder + maxQ; t < n; t++) {
    for (let i = 0; i < maxP; i++) regressors[i] = t - 1 - i >= 0 ? centered[t - 1 - i] : 0;
    for (let j = 0; j < maxQ; j++) regressors[maxP + j] = innovations[t - 1 - j];
    for (let a = 0; a < width; a++) {
      crossWithTarget[a] += regressors[a] * centered[t];
      for (let b = 0; b < width; b++) gram[a * width + b] += regressors[a] * regressors[b];
    }
  }
  return { maxP, maxQ, gram, crossWithTarget };
}

/** AR coefficients of the given order from sample autocovariances (Levinson-Durbin). */
function yuleWalker(centered: Float64Array, order: number): Float64Array {
  const n = centered.length;
  const autocovariance = new Float64Array(order + 1);
  for (let lag = 0; lag <= order; lag++) {
    let sum = 0;
    for (let t = lag; t < n; t++) sum += centered[t] * centered[t - lag];
    autocovariance[lag] = sum / n;
  }
  const coefficients = new Float64Array(order);
  if (!(autocovariance[0] > 0)) return coefficients;
  let error = autocovariance[0];
  const previous = new Float64Array(order);
  for (let k = 0; k < order; k++) {
    let numerator = autocovariance[k + 1];
    for (let i = 0; i < k; i++) numerator -= coefficients[i] * autocovariance[k - i];
    const partial = numerator / error;
    previous.set(coefficients);
    for (let i = 0; i < k; i++) coefficients[i] = previous[i] - partial * previous[k - 1 - i];
    coefficients[k] = partial;
    error *= 1 - partial * partial;
    if (!(error > 0)) break;
  }
  return coefficients;
}

/** Hannan-Rissanen (ar, ma) for one order in unconstrained coordinates, or null when unusable. */
function hannanRissanenStart(basis: StartValueBasis, p: number, q: number): Float64Array | null {
  const width = basis.maxP + basis.maxQ;
  const columns = [...Array.from({ length: p }, (_, i) => i), ...Array.from({ length: q }, (_, j) => basis.maxP + j)];
  const size = columns.length;
  const system = new Float64Array(size * (size + 1));
  for (let a = 0; a < size; a++) {
    for (let b = 0; b < size; b++) system[a * (size + 1) + b] = basis.gram[columns[a] * width + columns[b]];
    system[a * (size + 1) + size] = basis.crossWithTarget[columns[a]];
  }
  if (!solveAugmentedSystem(system, size)) return null;
  const solution = Float64Array.from({ length: size }, (_, a) => system[a * (size + 1) + size]);
  return unconstrainCoefficients(solution.slice(0, p), solution.slice(p));
}

// ---------------------------------------------------------------------------------------------
// Optimiser

/**
 * Minimises Σ r_i(x)^2 by Levenberg-Marquardt (Marquardt's diagonal scaling) with a forward-difference
 * Jacobian. `residuals(x, out)` writes the `count` residuals and returns their sum of squares, or
 * Infinity outside its domain. Gauss-Newton's J'J sees the long, curved ridges of over-parameterised
 * ARMA likelihoods (near-cancelling AR and MA roots) at once, where BFGS needs hundreds of iterations.
 */
function minimizeSumOfSquares(
  residuals: (x: Float64Array, out: Float64Array) => number,
  start: Float64Array,
  count: number,
  logLikelihoodTolerance: number,
): Float64Array {
  const n = start.length;
  const x = Float64Array.from(start);
  let current = new Float64Array(count);
  let trial = new Float64Array(count);
  let value = residuals(x, current);
  if (n === 0 || !Number.isFinite(value)) return x;
  // Column-major: column i at i * count.
  const jacobian = new Float64Array(count * n);
  const normal = new Float64Array(n * n);
  const gradient = new Float64Array(n);
  const scale = new Float64Array(n);
  const system = new Float64Array(n * (n + 1));
  const candidate = new Float64Array(n);
  let damping = INITIAL_DAMPING;

  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    forwardDifferenceJacobian(residuals, x, current, trial, jacobian);
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let k = 0; k < count; k++) dot += jacobian[i * count + k] * current[k];
      gradient[i] = dot;
      for (let j = i; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < count; k++) sum += jacobian[i * count + k] * jacobian[j * count + k];
        normal[i * n + j] = sum;
        normal[j * n + i] = sum;
      }
      scale[i] = normal[i * n + i] > 0 ? Math.sqrt(normal[i * n + i]) : 1;
    }
    let candidateValue = Infinity;
    while (damping <= MAX_DAMPING) {
      // (D^-1 J'J D^-1 + λ I) z = -D^-1 J'r, step = D^-1 z.
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          system[i * (n + 1) + j] = normal[i * n + j] / (scale[i] * scale[j]) + (i === j ? damping : 0);
        }
        system[i * (n + 1) + n] = -gradient[i] / scale[i];
      }
      if (solveAugmentedSystem(system, n)) {
        for (let i = 0; i < n; i++) candidate[i] = x[i] + system[i * (n + 1) + n] / scale[i];
        candidateValue = residuals(candidate, trial);
        if (candidateValue < value) break;
      }
      damping *= DAMPING_GROWTH;
    }
    if (!(candidateValue < value)) break;
    const logLikelihoodGain = (count / 2) * Math.log(value / candidateValue);
    x.set(candidate);
    value = candidateValue;
    [current, trial] = [trial, current];
    damping = Math.max(damping / DAMPING_GROWTH, MIN_DAMPING);
    if (logLikelihoodGain <= logLikelihoodTolerance) break;
  }
  return x;
}

/** Column i of `jacobian` = (r(x + h e_i) - r(x)) / h, or a backward difference where x + h e_i leaves the domain. */
function forwardDifferenceJacobian(
  residuals: (x: Float64Array, out: Float64Array) => number,
  x: Float64Array,
  atX: Float64Array,
  scratch: Float64Array,
  jacobian: Float64Array,
): void {
  const count = atX.length;
  const probe = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    let step = DIFFERENCE_STEP * Math.max(1, Math.abs(x[i]));
    probe[i] = x[i] + step;
    if (!Number.isFinite(residuals(probe, scratch))) {
      step = -step;
      probe[i] = x[i] + step;
      if (!Number.isFinite(residuals(probe, scratch))) scratch.set(atX);
    }
    probe[i] = x[i];
    for (let k = 0; k < count; k++) jacobian[i * count + k] = (scratch[k] - atX[k]) / step;
  }
}

// ---------------------------------------------------------------------------------------------
// Fitting one order, and the order search

/** Coefficients, mean and sigma2 count as parameters in the AIC, as in statsmodels. */
export function parameterCount(p: number, q: number, withMean: boolean): number {
  return p + q + (withMean ? 1 : 0) + 1;
}

/** Akaike's criterion as statsmodels reports it: -2 logL + 2 (parameter count, seasonal terms included). */
export function aic(fit: ArmaFit, withMean: boolean): number {
  const seasonalTerms = fit.seasonalAr.length + fit.seasonalMa.length;
  return -2 * fit.logLikelihood + 2 * (parameterCount(fit.p, fit.q, withMean) + seasonalTerms);
}

/**
 * The product of a lag polynomial and its seasonal counterpart at `period`, as the coefficients of
 * one polynomial of order length + seasonal.length * period, written to `out`: for the AR side
 * (1 - Σ a_i B^i)(1 - Σ A_k B^(k s)) has -a_i A_k at lag i + k s (`crossSign` -1), for the MA side
 * (1 + Σ m_j B^j)(1 + Σ M_k B^(k s)) has +m_j M_k (`crossSign` 1). Without seasonal terms, `out`
 * holds the coefficients unchanged.
 */
export function multiplySeasonal(coefficients: Float64Array, seasonal: Float64Array, period: number, crossSign: 1 | -1, out: Float64Array): Float64Array {
  out.fill(0);
  out.set(coefficients);
  for (let k = 0; k < seasonal.length; k++) {
    const lag = (k + 1) * period;
    out[lag - 1] += seasonal[k];
    for (let i = 0; i < coefficients.length; i++) out[lag + i] += crossSign * coefficients[i] * seasonal[k];
  }
  return out;
}

/**
 * Exact maximum-likelihood ARMA(p, q) (+ mean when `withMean`, + `seasonal` terms) of a series with
 * optional NaN gaps. The optimiser starts from the best (by likelihood) of `starts` and the zero
 * point (white noise). With `held`, the first coordinates (ar, then ma, then seasonal ones) stay at
 * those values and only the rest are fitted (starts then hold the rest). Null when no start has a
 * finite likelihood (a degenerate series).
 */
export function fitArma(
  series: Float64Array,
  p: number,
  q: number,
  withMean: boolean,
  starts: readonly Float64Array[],
  logLikelihoodTolerance = PRECISE_TOLERANCE,
  seasonal: SeasonalOrder | null = null,
  held: Float64Array | null = null,
): ArmaFit | null {
  const period = seasonal?.period ?? 0;
  const seasonalP = seasonal?.p ?? 0;
  const seasonalQ = seasonal?.q ?? 0;
  const workspace = createWorkspace(p + seasonalP * period, q + seasonalQ * period, series.length);
  const ar = new Float64Array(p);
  const ma = new Float64Array(q);
  const seasonalAr = new Float64Array(seasonalP);
  const seasonalMa = new Float64Array(seasonalQ);
  const fullAr = new Float64Array(p + seasonalP * period);
  const fullMa = new Float64Array(q + seasonalQ * period);
  const scratch = new Float64Array(Math.max(p, q, seasonalP, seasonalQ));
  let observed = 0;
  for (const value of series) if (value === value) observed++;
  const load = (x: Float64Array): void => {
    constrainCoefficients(x, p, q, ar, ma, scratch);
    if (seasonal === null) {
      setCoefficients(workspace, ar, ma);
      return;
    }
    constrainPolynomial(x, p + q, seasonalP, seasonalAr, scratch);
    constrainPolynomial(x, p + q + seasonalP, seasonalQ, seasonalMa, scratch);
    for (let k = 0; k < seasonalQ; k++) seasonalMa[k] = -seasonalMa[k];
    setCoefficients(workspace, multiplySeasonal(ar, seasonalAr, period, -1, fullAr), multiplySeasonal(ma, seasonalMa, period, 1, fullMa));
  };
  const coordinates = new Float64Array(p + q + seasonalP + seasonalQ);
  if (held !== null) coordinates.set(held);
  /** The optimiser's point with the held coordinates in front. */
  const withHeld = (x: Float64Array): Float64Array => {
    if (held === null) return x;
    coordinates.set(x, held.length);
    return coordinates;
  };
  const residuals = (x: Float64Array, out: Float64Array): number => {
    load(withHeld(x));
    if (!Number.isFinite(profileLikelihood(series, workspace, withMean, out).logLikelihood)) return Infinity;
    let sum = 0;
    for (let k = 0; k < observed; k++) sum += out[k] * out[k];
    return sum;
  };

  const out = new Float64Array(observed);
  let best: Float64Array = new Float64Array(coordinates.length - (held?.length ?? 0));
  let bestValue = residuals(best, out);
  for (const start of starts) {
    const value = residuals(start, out);
    if (value < bestValue) {
      best = start;
      bestValue = value;
    }
  }
  if (!Number.isFinite(bestValue)) return null;
  const optimum = Float64Array.from(withHeld(minimizeSumOfSquares(residuals, best, observed, logLikelihoodTolerance)));
  load(optimum);
  const { logLikelihood, mean, sigma2 } = profileLikelihood(series, workspace, withMean);
  if (!Number.isFinite(logLikelihood)) return null;
  return { p, q, ar, ma, seasonal, seasonalAr, seasonalMa, mean, sigma2, logLikelihood, unconstrained: optimum };
}

/**
 * How the (p, q) grid is searched: every order, or Hyndman & Khandakar's stepwise walk (pmdarima's and
 * R's auto.arima default): start from the best of (2,2), (0,0), (1,0), (0,1), then move to the first
 * neighbour (p±1 and/or q±1) with a lower AIC until none has one.
 */
export type OrderSearch = 'stepwise' | 'grid';

const STEPWISE_STARTS: readonly (readonly [number, number])[] = [[2, 2], [0, 0], [1, 0], [0, 1]];
/** Neighbours in the order auto.arima tries them. */
const STEPWISE_MOVES: readonly (readonly [number, number])[] = [
  [-1, 0], [1, 0], [0, -1], [0, 1], [-1, -1], [1, 1], [-1, 1], [1, -1],
];

/**
 * The fit with the lowest AIC among the orders p <= maxP, q <= maxQ with at most `maxParameters`
 * parameters that `search` visits (ties keep the first found). Each order starts from the best of its
 * Hannan-Rissanen estimate and the optima of (p-1, q) and (p, q-1), when fitted, extended by a zero
 * coefficient, so a model never ends with a lower likelihood than a fitted nested one it extends.
 * Orders are compared with a loose optimiser tolerance; the winner is then refined to the precise one.
 * With a `period` (0: none), the winner is then offered seasonal terms ({@link searchSeasonalTerms}).
 * Null when no order could be fitted.
 */
export function searchArmaOrder(
  series: Float64Array,
  maxP: number,
  maxQ: number,
  withMean: boolean,
  maxParameters: number,
  search: OrderSearch,
  period = 0,
): ArmaFit | null {
  const basis = startValueBasis(series, maxP, maxQ);
  // undefined: not tried yet; null: tried and failed.
  const fits: (ArmaFit | null | undefined)[][] = Array.from({ length: maxP + 1 }, () => new Array(maxQ + 1));
  let best: ArmaFit | null = null;
  let bestAic = Infinity;
  /** Fits (p, q) if allowed and new; true when it becomes the best. */
  const tryOrder = (p: number, q: number): boolean => {
    if (p < 0 || q < 0 || p > maxP || q > maxQ || fits[p][q] !== undefined) return false;
    if (parameterCount(p, q, withMean) > maxParameters) return false;
    const fit = fitArma(series, p, q, withMean, startsFor(basis, fits, p, q), SEARCH_TOLERANCE);
    fits[p][q] = fit;
    if (fit === null || !(aic(fit, withMean) < bestAic)) return false;
    best = fit;
    bestAic = aic(fit, withMean);
    return true;
  };

  if (search === 'grid') {
    for (let p = 0; p <= maxP; p++) for (let q = 0; q <= maxQ; q++) tryOrder(p, q);
  } else {
    for (const [p, q] of STEPWISE_STARTS) tryOrder(Math.min(p, maxP), Math.min(q, maxQ));
    for (let moved = true; moved && best !== null; ) {
      const { p, q }: ArmaFit = best;
      moved = STEPWISE_MOVES.some(([dp, dq]) => tryOrder(p + dp, q + dq));
    }
  }
  const nonSeasonal = best as ArmaFit | null;
  if (nonSeasonal === null) return null;
  const winner = (period > 0 && searchSeasonalTerms(series, nonSeasonal, withMean, maxParameters, period)) || nonSeasonal;
  return fitArma(series, winner.p, winner.q, withMean, [winner.unconstrained], PRECISE_TOLERANCE, winner.seasonal) ?? winner;
}

/** Seasonal terms a search tries: one seasonal AR, or one seasonal MA, coefficient. */
const SEASONAL_TERMS: readonly (readonly [p: number, q: number])[] = [[1, 0], [0, 1]];
/** Seasonal terms are only tried on series spanning at least this many periods. */
const MIN_SEASONAL_PERIODS = 3;
/** Standard normal quantiles of the screen: 5% two-sided for the residual autocorrelation, 1% one-sided for the phase means. */
const RESIDUAL_SCREEN_Z = 1.959963984540054;
const PHASE_SCREEN_Z = 2.3263478740408408;

/**
 * `fit` (the order chosen without seasonal terms) beaten by AIC with a seasonal AR(1) or MA(1) term
 * at `period`, or null. Only series the screen ({@link looksSeasonal}) passes are searched, so a
 * series without a cycle costs one filter pass. Kept cheap: each term is fitted alone, the chosen
 * ARMA coefficients held (a one-dimensional fit, whose AIC is an upper bound of the joint fit's);
 * the winner's coefficients are all freed in the final, precise fit.
 */
function searchSeasonalTerms(series: Float64Array, fit: ArmaFit, withMean: boolean, maxParameters: number, period: number): ArmaFit | null {
  if (series.length < MIN_SEASONAL_PERIODS * period || parameterCount(fit.p, fit.q, withMean) + 1 > maxParameters) return null;
  if (!looksSeasonal(series, fit, period)) return null;
  // Start from the size of the series' autocorrelation at the period (the MA side is stored negated, see constrainCoefficients).
  const correlation = Math.max(-0.9, Math.min(0.9, autocorrelation(series, period)));
  const seasonalStart = correlation / Math.sqrt(1 - correlation * correlation);
  let best: ArmaFit | null = null;
  let bestAic = aic(fit, withMean);
  for (const [seasonalP, seasonalQ] of SEASONAL_TERMS) {
    const start = Float64Array.of(seasonalP === 1 ? seasonalStart : -seasonalStart);
    const candidate = fitArma(series, fit.p, fit.q, withMean, [start], SEARCH_TOLERANCE, { period, p: seasonalP, q: seasonalQ }, fit.unconstrained);
    if (candidate !== null && aic(candidate, withMean) < bestAic) {
      best = candidate;
      bestAic = aic(candidate, withMean);
    }
  }
  return best;
}

/**
 * Whether seasonal terms are worth fitting: the residuals of the non-seasonal fit are autocorrelated
 * at the period beyond chance (5%), or the series' means per phase of the period (per weekday, per
 * hour) differ beyond chance (1%, a one-way analysis of variance, chi-square approximation), which
 * catches cycles a higher-order ARMA mimicked.
 */
function looksSeasonal(series: Float64Array, fit: ArmaFit, period: number): boolean {
  const correlation = residualAutocorrelation(series, fit, period);
  if (Math.abs(correlation.value) * Math.sqrt(correlation.pairs) > RESIDUAL_SCREEN_Z) return true;
  const { between, within, observed, phases } = phaseVariance(series, period);
  const degrees = phases - 1;
  if (degrees < 1 || observed - phases < 1 || !(within > 0)) return false;
  // (phases - 1) F is about chi-square with phases - 1 degrees of freedom; Wilson-Hilferty's quantile.
  const chiSquare = between / (within / (observed - phases));
  const spread = 2 / (9 * degrees);
  return chiSquare > degrees * (1 - spread + PHASE_SCREEN_Z * Math.sqrt(spread)) ** 3;
}

/** Autocorrelation at `lag` of the standardized one-step residuals of a non-seasonal fit, and how many pairs it is over. */
function residualAutocorrelation(series: Float64Array, fit: ArmaFit, lag: number): { value: number; pairs: number } {
  const n = series.length;
  const workspace = createWorkspace(fit.p, fit.q, n);
  setCoefficients(workspace, fit.ar, fit.ma);
  const expected = new Float64Array(n);
  const variance = new Float64Array(n);
  if (!oneStepPredictions(series, workspace, fit.mean, fit.sigma2, expected, variance)) return { value: 0, pairs: 0 };
  const residuals = Float64Array.from(series, (value, t) => (value - expected[t]) / Math.sqrt(variance[t]));
  return { value: autocorrelation(residuals, lag), pairs: series.length - lag };
}

/** Sample autocorrelation at `lag` of the observed values (mean of the products of observed pairs over the mean square about the mean). */
function autocorrelation(series: Float64Array, lag: number): number {
  const n = series.length;
  const mean = observedMean(series);
  let sumSquares = 0;
  let observed = 0;
  for (const value of series) {
    if (value !== value) continue;
    sumSquares += (value - mean) ** 2;
    observed++;
  }
  let cross = 0;
  let pairs = 0;
  for (let t = lag; t < n; t++) {
    const product = (series[t] - mean) * (series[t - lag] - mean);
    if (product !== product) continue;
    cross += product;
    pairs++;
  }
  return sumSquares > 0 && pairs > 0 ? cross / pairs / (sumSquares / observed) : 0;
}

/** Start values for (p, q): Hannan-Rissanen, and the fitted nested orders padded with a zero partial autocorrelation. */
function startsFor(
  basis: StartValueBasis,
  fits: readonly (ArmaFit | null | undefined)[][],
  p: number,
  q: number,
): Float64Array[] {
  const starts: Float64Array[] = [];
  const hannanRissanen = hannanRissanenStart(basis, p, q);
  if (hannanRissanen !== null) starts.push(hannanRissanen);
  const lowerAr = p > 0 ? fits[p - 1][q] : null;
  if (lowerAr) {
    const start = new Float64Array(p + q);
    start.set(lowerAr.unconstrained.subarray(0, p - 1));
    start.set(lowerAr.unconstrained.subarray(p - 1), p);
    starts.push(start);
  }
  const lowerMa = q > 0 ? fits[p][q - 1] : null;
  if (lowerMa) {
    const start = new Float64Array(p + q);
    start.set(lowerMa.unconstrained);
    starts.push(start);
  }
  return starts;
}

// ---------------------------------------------------------------------------------------------
// Differencing order

/** Δ^d of a series (NaN where any term is missing); the first d entries are dropped. */
export function difference(series: Float64Array, d: number): Float64Array {
  let current = series;
  for (let k = 0; k < d; k++) {
    const next = new Float64Array(Math.max(0, current.length - 1));
    for (let t = 0; t < next.length; t++) next[t] = current[t + 1] - current[t];
    current = next;
  }
  return current;
}

/** y_t - y_(t - period) (NaN where either is missing); the first `period` entries are dropped. */
export function seasonalDifference(series: Float64Array, period: number): Float64Array {
  const next = new Float64Array(Math.max(0, series.length - period));
  for (let t = 0; t < next.length; t++) next[t] = series[t + period] - series[t];
  return next;
}

/** Seasonal strength from which a series is differenced at its period (Wang, Smith & Hyndman 2006; forecast's nsdiffs). */
const SEASONAL_STRENGTH_THRESHOLD = 0.64;

/**
 * Seasonal differences (0 or 1) for `series` at `period`, as auto.arima's `nsdiffs` decides by seasonal
 * strength: 1 when the means per phase (per weekday, per hour) explain at least 64% of the variance
 * of the series around its mean and the series spans at least three periods after differencing.
 */
export function seasonalDifferencingOrder(series: Float64Array, period: number): number {
  if (series.length < (MIN_SEASONAL_PERIODS + 1) * period) return 0;
  const { between, within } = phaseVariance(series, period);
  return between > 0 && between / (between + within) >= SEASONAL_STRENGTH_THRESHOLD ? 1 : 0;
}

/** Sums of squares of the observed values between the means per phase of `period`, and within them; counts per phase. */
function phaseVariance(series: Float64Array, period: number): { between: number; within: number; observed: number; phases: number } {
  const sums = new Float64Array(period);
  const counts = new Float64Array(period);
  let total = 0;
  let observed = 0;
  for (let t = 0; t < series.length; t++) {
    const value = series[t];
    if (value !== value) continue;
    sums[t % period] += value;
    counts[t % period]++;
    total += value;
    observed++;
  }
  const grandMean = total / observed;
  let between = 0;
  let phases = 0;
  for (let phase = 0; phase < period; phase++) {
    if (counts[phase] === 0) continue;
    between += counts[phase] * (sums[phase] / counts[phase] - grandMean) ** 2;
    phases++;
  }
  let within = 0;
  for (let t = 0; t < series.length; t++) {
    const value = series[t];
    if (value === value) within += (value - sums[t % period] / counts[t % period]) ** 2;
  }
  return { between, within, observed, phases };
}

/**
 * Number of differences (0..maxD) that make the series level-stationary by the KPSS test at 5%,
 * as `ndiffs(test='kpss')` in pmdarima and R's forecast: difference while the test rejects.
 * Gaps are skipped (the observed values are tested as if consecutive).
 */
export function kpssDifferencingOrder(series: Float64Array, maxD: number): number {
  let current: Float64Array = series.filter((value) => value === value);
  let d = 0;
  while (d < maxD && current.length > 3 && !isConstant(current) && kpssStatistic(current) > KPSS_CRITICAL_5PCT) {
    current = difference(current, 1);
    d++;
  }
  return d;
}

/** KPSS level-stationarity statistic with a Bartlett-window long-run variance of trunc(3 sqrt(n) / 13) lags. */
function kpssStatistic(values: Float64Array): number {
  const n = values.length;
  const mean = observedMean(values);
  const residuals = Float64Array.from(values, (value) => value - mean);
  let partialSum = 0;
  let sumOfPartialSquares = 0;
  let sumSquares = 0;
  for (const residual of residuals) {
    partialSum += residual;
    sumOfPartialSquares += partialSum * partialSum;
    sumSquares += residual * residual;
  }
  const lags = Math.trunc((3 * Math.sqrt(n)) / 13);
  let longRunVariance = sumSquares / n;
  for (let lag = 1; lag <= lags; lag++) {
    let autocovariance = 0;
    for (let t = lag; t < n; t++) autocovariance += residuals[t] * residuals[t - lag];
    longRunVariance += (2 * (1 - lag / (lags + 1)) * autocovariance) / n;
  }
  return sumOfPartialSquares / (n * n) / longRunVariance;
}

/** True when all observed values are equal (or there are none). */
export function isConstant(series: Float64Array): boolean {
  let first = Number.NaN;
  for (const value of series) {
    if (value !== value) continue;
    if (first !== first) first = value;
    else if (value !== first) return false;
  }
  return true;
}
