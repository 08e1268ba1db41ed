/** How well probabilities predict 0/1 outcomes: ranking (ROC AUC), fit (log loss, Brier score) and calibration. */

/**
 * Area under the ROC curve: the chance that a random positive row gets a higher probability than a
 * random negative one, ties counting half (Mann–Whitney U with average ranks, as scikit-learn's
 * `roc_auc_score`). NaN when the labels hold only one outcome.
 */
export function rocAuc(labels: Uint8Array, probabilities: Float64Array): number {
  const count = labels.length;
  const order = Uint32Array.from({ length: count }, (_, row) => row).sort((a, b) => probabilities[a] - probabilities[b]);
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < count; ) {
    let end = start + 1;
    while (end < count && probabilities[order[end]] === probabilities[order[start]]) end++;
    // Ranks start+1..end share their average.
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) {
      if (labels[order[k]] === 1) {
        positives++;
        positiveRankSum += averageRank;
      }
    }
    start = end;
  }
  const negatives = count - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Probabilities are clipped to [CLIP, 1 - CLIP] before their log, so that one certain mistake costs much, not infinity. */
const CLIP = 1e-15;

/** Mean negative log-likelihood of the outcomes (natural log), lower is better. */
export function logLoss(labels: Uint8Array, probabilities: Float64Array): number {
  let sum = 0;
  for (let row = 0; row < labels.length; row++) {
    const p = Math.min(Math.max(probabilities[row], CLIP), 1 - CLIP);
    sum -= labels[row] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}

/** Mean squared difference between probability and outcome, lower is better. */
export function brierScore(labels: Uint8Array, probabilities: Float64Array): number {
  let sum = 0;
  for (let row = 0; row < labels.length; row++) sum += (probabilities[row] - labels[row]) ** 2;
  return sum / labels.length;
}

/** One bin of a calibration table: rows whose probability lies in [from, to) (the last bin includes 1). */
export interface CalibrationBin {
  from: number;
  to: number;
  rows: number;
  /** Mean probability the model gave the bin's rows. */
  mean_probability: number;
  /** Share of the bin's rows whose outcome was 1: close to mean_probability when the model is calibrated. */
  observed_rate: number;
}

/** Rows by probability in `bins` bins of equal width over [0, 1]; empty bins are left out (scikit-learn's `calibration_curve`, strategy uniform). */
export function calibrationTable(labels: Uint8Array, probabilities: Float64Array, bins = 10): CalibrationBin[] {
  const rows = new Float64Array(bins);
  const probabilitySums = new Float64Array(bins);
  const positives = new Float64Array(bins);
  for (let row = 0; row < labels.length; row++) {
    const bin = Math.min(bins - 1, Math.floor(probabilities[row] * bins));
    rows[bin]++;
    probabilitySums[bin] += probabilities[row];
    positives[bin] += labels[row];
  }
  const table: CalibrationBin[] = [];
  for (let bin = 0; bin < bins; bin++) {
    if (rows[bin] === 0) continue;
    table.push({ from: bin / bins, to: (bin + 1) / bins, rows: rows[bin], mean_probability: probabilitySums[bin] / rows[bin], observed_rate: positives[bin] / rows[bin] });
  }
  return table;
}
