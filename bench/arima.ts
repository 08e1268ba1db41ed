/**
 * ARIMA anomaly detection over many daily series, as the flight-delay pipeline runs it: one series of
 * 181 days per airport, each with its own order search, 3-sigma intervals.
 *
 * The harness keys cases by `rows` (entities x 181 days), so each case has its own entity count:
 *   54,300 rows   =   300 entities, stepwise AIC search (the default)
 *   543,000 rows  = 3,000 entities, fixed ARIMA(1,0,1)
 *   5,430 rows    =    30 entities, exhaustive grid search over p, q <= 5
 *
 * Series are seeded ARMA(p <= 2, q <= 2) processes with a mean, 2% injected spikes of 4-8 sigma and
 * 1% missing days.
 */
import { detectArimaAnomalies, type ArimaOptions } from '../src/detectors/index.js';
import { SeededRandom } from '../src/sample/index.js';
import type { BenchCase } from './main.js';

const SEED = 20010101;
const DAYS = 181;
const BURN_IN = 100;
const SPIKE_RATE = 0.02;
const MISSING_RATE = 0.01;

/** One seeded daily series: mean + ARMA noise, with spikes and gaps. */
function generateSeries(random: SeededRandom): Float64Array {
  const ar = stationaryCoefficients(random, Math.floor(random.uniform(0, 3)));
  const ma = stationaryCoefficients(random, Math.floor(random.uniform(0, 3)));
  const mean = random.uniform(5, 20);
  const sigma = random.uniform(5, 15);
  const noise = new Float64Array(BURN_IN + DAYS);
  const shocks = new Float64Array(BURN_IN + DAYS);
  for (let t = 0; t < noise.length; t++) {
    shocks[t] = sigma * random.normal();
    let value = shocks[t];
    for (let i = 0; i < ar.length && i < t; i++) value += ar[i] * noise[t - 1 - i];
    // The MA polynomial is 1 + Σ ma_j B^j: negate the stationary draw to keep it invertible.
    for (let j = 0; j < ma.length && j < t; j++) value -= ma[j] * shocks[t - 1 - j];
    noise[t] = value;
  }
  const series = new Float64Array(DAYS);
  for (let day = 0; day < DAYS; day++) {
    series[day] = mean + noise[BURN_IN + day];
    if (random.next() < SPIKE_RATE) series[day] += (random.next() < 0.5 ? -1 : 1) * random.uniform(4, 8) * sigma;
    if (random.next() < MISSING_RATE) series[day] = Number.NaN;
  }
  return series;
}

/** Stationary AR coefficients from partial autocorrelations drawn in (-0.7, 0.7) (Durbin-Levinson). */
function stationaryCoefficients(random: SeededRandom, order: number): Float64Array {
  const coefficients = new Float64Array(order);
  for (let k = 0; k < order; k++) {
    const partial = random.uniform(-0.7, 0.7);
    const previous = coefficients.slice(0, k);
    for (let i = 0; i < k; i++) coefficients[i] = previous[i] - partial * previous[k - 1 - i];
    coefficients[k] = partial;
  }
  return coefficients;
}

function prepare(entities: number, options: ArimaOptions) {
  const random = new SeededRandom(SEED);
  const series = Array.from({ length: entities }, () => generateSeries(random));
  return () => {
    let anomalies = 0;
    for (const values of series) {
      const { isAnomaly } = detectArimaAnomalies(values, { ...options, intervalSigmas: 3 });
      for (const flag of isAnomaly) anomalies += flag;
    }
    return anomalies;
  };
}

const ENTITY_CASES: readonly { entities: number; options: ArimaOptions }[] = [
  { entities: 300, options: {} },
  { entities: 3_000, options: { order: [1, 0, 1] } },
  { entities: 30, options: { search: 'grid' } },
];

export const cases: readonly BenchCase[] = ENTITY_CASES.map(({ entities, options }) => ({
  rows: entities * DAYS,
  prepare: () => prepare(entities, options),
}));
