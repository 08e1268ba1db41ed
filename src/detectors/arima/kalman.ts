/**
 * Exact Gaussian likelihood and one-step-ahead predictions of a stationary ARMA(p, q) process with a
 * mean, by the Kalman filter on Harvey's state-space form, as statsmodels' SARIMAX computes them:
 *
 *   y_t = mean + u_t,   u_t = Σ ar_i u_{t-i} + e_t + Σ ma_j e_{t-j},   e_t ~ N(0, sigma2)
 *
 * State (dimension r = max(p, q + 1)): α_t = T α_{t-1} + R e_t, u_t = α_t[0], with T the companion
 * matrix (ar down the first column, ones on the superdiagonal) and R = [1, ma_1, .., ma_{r-1}].
 * The first state is drawn from the stationary distribution, so the first prediction is the mean
 * with the process's unconditional variance. Missing observations (NaN) are predicted but not used.
 *
 * Everything runs with sigma2 = 1: the gains do not depend on sigma2, so the variance, and the mean
 * too, are estimated in closed form afterwards (the likelihood is "profiled" over them).
 */

/**
 * Scratch arrays of one ARMA order, allocated once and reused by every evaluation of that order.
 * Vectors have r + 1 entries and matrices (r + 1) x (r + 1), row-major, whose last entry / row and
 * column stay 0: "the element after the last" then reads as 0 and the recursions need no branches.
 */
export interface ArmaWorkspace {
  /** State dimension r = max(p, q + 1). */
  stateSize: number;
  /** ar_1..ar_r, zero past p. */
  phi: Float64Array;
  /** 1, ma_1, .., ma_{r-1}, zero past q. */
  loading: Float64Array;
  /** Predicted state covariance, and the next one. */
  covariance: Float64Array;
  nextCovariance: Float64Array;
  /** Predicted state for the data and for the constant 1 (the mean's regressor). */
  state: Float64Array;
  unitState: Float64Array;
  gain: Float64Array;
  /** Gaussian elimination scratch for the stationary covariance: r x (r + 1). */
  system: Float64Array;
  /** Per time step: prediction of the data (for mean 0), of the constant 1, and their variance F (sigma2 = 1). */
  predictions: Float64Array;
  unitPredictions: Float64Array;
  variances: Float64Array;
  /** Per observed step: innovation / sqrt(F), of the data and of the constant 1. */
  standardized: Float64Array;
  unitStandardized: Float64Array;
  /** Σ log F over the observed steps of the last run. */
  sumLogF: number;
}

/** Result of {@link profileLikelihood}: the likelihood maximised over mean and sigma2. */
export interface ProfiledFit {
  logLikelihood: number;
  mean: number;
  sigma2: number;
}

/** The covariance counts as converged (steady state) once no entry moves by more than this. */
const STEADY_STATE_TOLERANCE = 1e-13;
const LOG_2PI = Math.log(2 * Math.PI);

/** Scratch for ARMA(p, q) on series of up to `length` values. */
export function createWorkspace(p: number, q: number, length: number): ArmaWorkspace {
  const stateSize = Math.max(p, q + 1);
  const padded = stateSize + 1;
  return {
    stateSize,
    phi: new Float64Array(padded),
    loading: new Float64Array(padded),
    covariance: new Float64Array(padded * padded),
    nextCovariance: new Float64Array(padded * padded),
    state: new Float64Array(padded),
    unitState: new Float64Array(padded),
    gain: new Float64Array(padded),
    system: new Float64Array(stateSize * (stateSize + 1)),
    predictions: new Float64Array(length),
    unitPredictions: new Float64Array(length),
    variances: new Float64Array(length),
    standardized: new Float64Array(length),
    unitStandardized: new Float64Array(length),
    sumLogF: 0,
  };
}

/** Loads coefficients (statsmodels' signs) into the workspace's T and R. */
export function setCoefficients(workspace: ArmaWorkspace, ar: ArrayLike<number>, ma: ArrayLike<number>): void {
  const { phi, loading } = workspace;
  phi.fill(0);
  loading.fill(0);
  for (let i = 0; i < ar.length; i++) phi[i] = ar[i];
  loading[0] = 1;
  for (let j = 0; j < ma.length; j++) loading[j + 1] = ma[j];
}

/**
 * Solves P = T P T' + R R' (the stationary state covariance for sigma2 = 1) into `workspace.covariance`.
 *
 * With T a companion matrix, (T P T')_ij = φ_i φ_j P_00 + φ_i P_0,j+1 + φ_j P_0,i+1 + P_i+1,j+1, so every
 * entry is a sum along its diagonal of terms in the first row P_0,k only: r linear equations for that
 * row, then the rest follows bottom-up. O(r^3) instead of the O(r^6) of a generic Lyapunov solve.
 * Returns false when the system is singular (the AR part has a unit root).
 */
function stationaryCovariance(workspace: ArmaWorkspace): boolean {
  const { stateSize: r, phi, loading, covariance: P, system } = workspace;
  const width = r + 1;
  system.fill(0);
  // Row j: P_0j - Σ_s [φ_s φ_{j+s} x_0 + φ_s x_{j+s+1} + φ_{j+s} x_{s+1}] = Σ_s R_s R_{j+s}, with x_r = 0.
  for (let j = 0; j < r; j++) {
    const row = j * width;
    system[row + j] += 1;
    for (let s = 0; s + j < r; s++) {
      system[row] -= phi[s] * phi[j + s];
      if (j + s + 1 < r) system[row + j + s + 1] -= phi[s];
      if (s + 1 < r) system[row + s + 1] -= phi[j + s];
      system[row + r] += loading[s] * loading[j + s];
    }
  }
  if (!solveAugmentedSystem(system, r)) return false;
  P.fill(0);
  for (let j = 0; j < r; j++) P[j] = system[j * width + r];
  // Bottom-up, every entry only reads the first row and the entry below-right of it, both final.
  for (let i = r - 1; i >= 1; i--) {
    for (let j = r - 1; j >= i; j--) {
      const value = propagatedEntry(workspace, P, i, j);
      P[i * width + j] = value;
      P[j * width + i] = value;
    }
  }
  for (let j = 1; j < r; j++) P[j * width] = P[j];
  return P[0] > 0;
}

/**
 * Solves a small dense system in place: Gaussian elimination with partial pivoting on an n x (n + 1)
 * augmented matrix (row-major), leaving the solution in the last column. False when (nearly) singular.
 */
export function solveAugmentedSystem(system: Float64Array, n: number): boolean {
  const width = n + 1;
  const scale = Math.max(1, Math.abs(system[0]));
  for (let column = 0; column < n; column++) {
    let pivotRow = column;
    for (let row = column + 1; row < n; row++) {
      if (Math.abs(system[row * width + column]) > Math.abs(system[pivotRow * width + column])) pivotRow = row;
    }
    const pivot = system[pivotRow * width + column];
    if (!(Math.abs(pivot) > 1e-12 * scale)) return false;
    if (pivotRow !== column) {
      for (let k = column; k < width; k++) {
        const swap = system[column * width + k];
        system[column * width + k] = system[pivotRow * width + k];
        system[pivotRow * width + k] = swap;
      }
    }
    for (let row = 0; row < n; row++) {
      if (row === column) continue;
      const factor = system[row * width + column] / pivot;
      if (factor === 0) continue;
      for (let k = column; k < width; k++) system[row * width + k] -= factor * system[column * width + k];
    }
  }
  for (let row = 0; row < n; row++) system[row * width + n] /= system[row * width + row];
  return true;
}

/** (T P T' + R R')_ij, with T the companion matrix: φ_i φ_j P_00 + φ_i P_0,j+1 + φ_j P_0,i+1 + P_i+1,j+1 + R_i R_j. */
function propagatedEntry(workspace: ArmaWorkspace, P: Float64Array, i: number, j: number): number {
  const { phi, loading } = workspace;
  const below = (i + 1) * (workspace.stateSize + 1) + j + 1;
  return phi[i] * phi[j] * P[0] + phi[i] * P[j + 1] + phi[j] * P[i + 1] + P[below] + loading[i] * loading[j];
}

/** P <- T P T' + R R', the covariance update across a missing observation; returns the new P. */
function skipObservation(workspace: ArmaWorkspace): Float64Array {
  const { stateSize: r, covariance: P, nextCovariance: next } = workspace;
  const width = r + 1;
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      const value = propagatedEntry(workspace, P, i, j);
      next[i * width + j] = value;
      next[j * width + i] = value;
    }
  }
  workspace.covariance = next;
  workspace.nextCovariance = P;
  return next;
}

/**
 * Runs the filter over `series` and, when `withMean`, over the constant 1 with the same gains (the
 * filter is linear, so the prediction for mean m is prediction + m (1 - unitPrediction)). Stores the
 * per-step predictions for mean 0 with their variance, and the standardized innovations of the
 * observed steps. Once the covariance has converged, gain and variance are frozen (statsmodels' filter
 * also stops updating a converged covariance) until a missing value perturbs them.
 * This loop is where fitting spends its time.
 * Returns the number of observed steps, or -1 when the coefficients are not stationary.
 */
function runFilter(series: Float64Array, workspace: ArmaWorkspace, withMean: boolean): number {
  if (!stationaryCovariance(workspace)) return -1;
  const { stateSize: r, phi, loading, gain, state, unitState } = workspace;
  const { predictions, unitPredictions, variances, standardized, unitStandardized } = workspace;
  const width = r + 1;
  state.fill(0);
  unitState.fill(0);
  let P = workspace.covariance;
  let F = P[0];
  let inverseSqrtF = 1 / Math.sqrt(F);
  // F >= 1 (it includes the unit-variance shock), so Σ log F is taken as the log of a running product.
  let productF = 1;
  let sumLogF = 0;
  let observed = 0;
  let steady = false;
  for (let t = 0; t < series.length; t++) {
    const value = series[t];
    const first = state[0];
    const unitFirst = unitState[0];
    predictions[t] = first;
    unitPredictions[t] = unitFirst;
    variances[t] = F;
    if (value !== value) {
      // a <- T a; state[r] is the padding 0.
      for (let i = 0; i < r; i++) state[i] = phi[i] * first + state[i + 1];
      if (withMean) for (let i = 0; i < r; i++) unitState[i] = phi[i] * unitFirst + unitState[i + 1];
      P = skipObservation(workspace);
      F = P[0];
      inverseSqrtF = 1 / Math.sqrt(F);
      steady = false;
      continue;
    }
    const innovation = value - first;
    const unitInnovation = 1 - unitFirst;
    standardized[observed] = innovation * inverseSqrtF;
    unitStandardized[observed] = unitInnovation * inverseSqrtF;
    observed++;
    productF *= F;
    if (productF > 1e100) {
      sumLogF += Math.log(productF);
      productF = 1;
    }
    if (!steady) {
      // K = T P e0 / F.
      const inverseF = inverseSqrtF * inverseSqrtF;
      for (let i = 0; i < r; i++) gain[i] = phi[i] + P[i + 1] * inverseF;
    }
    // a <- T a + K v.
    for (let i = 0; i < r; i++) state[i] = phi[i] * first + state[i + 1] + gain[i] * innovation;
    if (withMean) {
      for (let i = 0; i < r; i++) unitState[i] = phi[i] * unitFirst + unitState[i + 1] + gain[i] * unitInnovation;
    }
    if (!steady) {
      // P <- T (P - P e0 e0' P / F) T' + R R': the filtered covariance has a zero first row, so the φ terms vanish.
      const next = workspace.nextCovariance;
      const inverseF = inverseSqrtF * inverseSqrtF;
      let largestChange = 0;
      for (let i = 0; i < r; i++) {
        const firstRowI1 = P[i + 1] * inverseF;
        const rowI1 = (i + 1) * width + 1;
        for (let j = i; j < r; j++) {
          const updated = P[rowI1 + j] - firstRowI1 * P[j + 1] + loading[i] * loading[j];
          const change = updated - P[i * width + j];
          if (change > largestChange) largestChange = change;
          else if (-change > largestChange) largestChange = -change;
          next[i * width + j] = updated;
          next[j * width + i] = updated;
        }
      }
      workspace.nextCovariance = P;
      workspace.covariance = next;
      P = next;
      F = P[0];
      inverseSqrtF = 1 / Math.sqrt(F);
      steady = largestChange < STEADY_STATE_TOLERANCE;
    }
  }
  workspace.sumLogF = sumLogF + Math.log(productF);
  return observed;
}

/**
 * Exact log-likelihood of `series` for the workspace's ARMA coefficients, maximised in closed form
 * over sigma2 and, when `withMean`, over the mean (a GLS estimate: the innovations are linear in the
 * mean). Without a mean the process has mean 0.
 *
 * With `residuals`, also writes r_t = v_t sqrt(g / F_t) for each observed step, g the geometric mean of
 * the F_t: the log-likelihood is -n/2 (log 2π + 1 + log(Σ r_t^2 / n)), so maximising it is a least-squares
 * problem in the coefficients. Returns -Infinity when the coefficients are not stationary or the fit is
 * degenerate.
 */
export function profileLikelihood(
  series: Float64Array,
  workspace: ArmaWorkspace,
  withMean: boolean,
  residuals?: Float64Array,
): ProfiledFit {
  const failed = { logLikelihood: -Infinity, mean: Number.NaN, sigma2: Number.NaN };
  const observed = runFilter(series, workspace, withMean);
  if (observed <= 0) return failed;
  const { standardized, unitStandardized, sumLogF } = workspace;
  let mean = 0;
  if (withMean) {
    let crossSum = 0;
    let unitSquares = 0;
    for (let k = 0; k < observed; k++) {
      crossSum += standardized[k] * unitStandardized[k];
      unitSquares += unitStandardized[k] * unitStandardized[k];
    }
    if (unitSquares > 0) mean = crossSum / unitSquares;
  }
  let sumSquares = 0;
  for (let k = 0; k < observed; k++) {
    const innovation = standardized[k] - mean * unitStandardized[k];
    sumSquares += innovation * innovation;
  }
  const sigma2 = sumSquares / observed;
  if (!(sigma2 > 0) || !Number.isFinite(sigma2)) return failed;
  if (residuals) {
    const sqrtGeometricMeanF = Math.exp(sumLogF / (2 * observed));
    for (let k = 0; k < observed; k++) residuals[k] = (standardized[k] - mean * unitStandardized[k]) * sqrtGeometricMeanF;
  }
  const logLikelihood = -0.5 * (observed * (LOG_2PI + 1 + Math.log(sigma2)) + sumLogF);
  return { logLikelihood, mean, sigma2 };
}

/**
 * One-step-ahead predictions of `series` (each from the observations before it) and their variances,
 * for the workspace's coefficients and a known mean and sigma2. Missing values get a prediction too.
 * Returns false when the coefficients are not stationary.
 */
export function oneStepPredictions(
  series: Float64Array,
  workspace: ArmaWorkspace,
  mean: number,
  sigma2: number,
  expected: Float64Array,
  variance: Float64Array,
): boolean {
  if (runFilter(series, workspace, true) < 0) return false;
  const { predictions, unitPredictions, variances } = workspace;
  for (let t = 0; t < series.length; t++) {
    expected[t] = predictions[t] + mean * (1 - unitPredictions[t]);
    variance[t] = sigma2 * variances[t];
  }
  return true;
}
