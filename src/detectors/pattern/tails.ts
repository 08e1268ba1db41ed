/**
 * Upper tails of counts on the log scale: how surprising it is that a vehicle repeats a value k
 * times (Poisson) or has k back-to-back trips out of n (binomial), far below what a double holds.
 */

const SMALL_FACTORIALS = (() => {
  const table = new Float64Array(257);
  for (let n = 2; n < table.length; n++) table[n] = table[n - 1] + Math.log(n);
  return table;
})();

/** ln(n!) (exact sums below 257, Stirling's series beyond). */
export function logFactorial(n: number): number {
  if (n < SMALL_FACTORIALS.length) return SMALL_FACTORIALS[n];
  return n * Math.log(n) - n + 0.5 * Math.log(2 * Math.PI * n) + 1 / (12 * n) - 1 / (360 * n ** 3);
}

// Terms are summed until they no longer change the sum in double precision.
const NEGLIGIBLE = 1e-17;
const MAX_TERMS = 100_000;

/**
 * ln P(X ≥ k) for X ~ Poisson(mean); 0 (P taken as 1) when k is not above the mean, where no
 * excess is to be tested.
 *
 * @example
 * logPoissonTail(3, 0.5) // → ln 0.01439 = -4.241
 */
export function logPoissonTail(k: number, mean: number): number {
  if (k <= mean || k <= 0) return 0;
  const logFirst = k * Math.log(mean) - mean - logFactorial(k);
  let sum = 1;
  let term = 1;
  for (let i = k + 1; i < k + MAX_TERMS && term > NEGLIGIBLE * sum; i++) {
    term *= mean / i;
    sum += term;
  }
  return Math.min(0, logFirst + Math.log(sum));
}

/**
 * ln P(X ≥ k) for X ~ Binomial(n, p); 0 when k is not above n·p.
 *
 * @example
 * logBinomialTail(3, 3, 0.5) // → ln 0.125
 */
export function logBinomialTail(k: number, n: number, p: number): number {
  if (k <= n * p || k <= 0) return 0;
  if (k > n) return Number.NEGATIVE_INFINITY;
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return 0;
  const logFirst = logFactorial(n) - logFactorial(k) - logFactorial(n - k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
  const odds = p / (1 - p);
  let sum = 1;
  let term = 1;
  for (let i = k; i < n && term > NEGLIGIBLE * sum; i++) {
    term *= ((n - i) / (i + 1)) * odds;
    sum += term;
  }
  return Math.min(0, logFirst + Math.log(sum));
}
