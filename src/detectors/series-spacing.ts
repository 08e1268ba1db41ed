/** The most common positive gap between consecutive rows' times; null for fewer than two distinct times. */
export function usualStepMs(timestampsMs: Float64Array): number | null {
  const gaps = new Float64Array(Math.max(0, timestampsMs.length - 1));
  for (let row = 1; row < timestampsMs.length; row++) gaps[row - 1] = timestampsMs[row] - timestampsMs[row - 1];
  gaps.sort();
  let best: number | null = null;
  let bestRun = 0;
  for (let start = 0, end = 0; start < gaps.length; start = end) {
    while (end < gaps.length && gaps[end] === gaps[start]) end++;
    if (gaps[start] > 0 && end - start > bestRun) (best = gaps[start]), (bestRun = end - start);
  }
  return best;
}
