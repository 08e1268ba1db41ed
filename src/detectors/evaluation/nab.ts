/**
 * The Numenta Anomaly Benchmark's scoring (NAB v1.1, `nab/sweeper.py`) of a detector's detections on
 * one labelled series, at a fixed threshold: the detections are the points a detector flags.
 *
 * - The first `min(floor(0.15 n), 750)` points are probationary: a detector is learning there, and
 *   nothing it flags or misses there counts (a window lying wholly inside is not counted either).
 * - Inside a window, a detection scores `scaledSigmoid(-(right - i + 1) / width)`, divided by the
 *   score of the window's first point (so the earliest detection earns the TP weight); only the
 *   best (the first) detection of a window counts.
 * - Outside every window, a detection costs `scaledSigmoid((i - prevRight) / (prevWidth - 1))`
 *   times the FP weight after a window (less close behind it), and the full FP weight before any.
 * - Each window without a detection costs the FN weight.
 *
 * Normalised over a set of files: 100 × (raw − null) / (perfect − null), where the null detector
 * flags nothing and the perfect one flags the first scored point of every window.
 */

/** Weights of a NAB application profile. */
export interface NabWeights {
  truePositive: number;
  falsePositive: number;
  falseNegative: number;
}

/** NAB's three application profiles (`config/profiles.json`). */
export const NAB_PROFILES = {
  standard: { truePositive: 1, falsePositive: 0.11, falseNegative: 1 },
  low_fp: { truePositive: 1, falsePositive: 0.22, falseNegative: 1 },
  low_fn: { truePositive: 1, falsePositive: 0.11, falseNegative: 2 },
} as const satisfies Record<string, NabWeights>;
export type NabProfile = keyof typeof NAB_PROFILES;

/** A labelled anomaly window: the indices of its first and last point (both inclusive). */
export interface RowWindow {
  first: number;
  last: number;
}

/** One series scored under one profile. */
export interface NabFileScore {
  /** The detector's raw score. */
  raw: number;
  /** What flagging nothing scores (−FN weight per counted window) and flagging each window's first point. */
  null: number;
  perfect: number;
  /** Windows counted (not wholly probationary), and those with a detection. */
  windows: number;
  detectedWindows: number;
  /** Scored detections (after the probation), and those inside a window. */
  detections: number;
  detectionsInWindows: number;
}

/** NAB's scaled sigmoid: 1 far before a window's end (relative position ≤ −1), 0 at its end, −1 from 3 window widths after it. */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3) return -1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

/** Points NAB does not score at the start of a series of `count` points. */
export function probationaryLength(count: number): number {
  return Math.min(Math.floor(0.15 * count), Math.floor(0.15 * 5000));
}

/** The raw score of `detected` (1 per flagged point) against `windows` (sorted, disjoint), and its counts. */
function rawScore(detected: Uint8Array, windows: readonly RowWindow[], weights: NabWeights) {
  const probation = probationaryLength(detected.length);
  const bestTruePositive = scaledSigmoid(-1);
  let raw = 0;
  let counted = 0;
  let detectedWindows = 0;
  let detections = 0;
  let detectionsInWindows = 0;
  let previous: RowWindow | undefined;
  let next = 0;
  for (let i = probation; i < detected.length; ) {
    while (next < windows.length && windows[next].last < i) previous = windows[next++];
    const window = windows[next];
    if (window !== undefined && window.first <= i) {
      // Inside a window: its first detection (the best-scoring one) counts, the others are free.
      counted++;
      const width = window.last - window.first + 1;
      let found = false;
      for (; i <= window.last && i < detected.length; i++) {
        if (detected[i] !== 1) continue;
        detections++;
        detectionsInWindows++;
        if (found) continue;
        found = true;
        raw += (scaledSigmoid(-(window.last - i + 1) / width) * weights.truePositive) / bestTruePositive;
      }
      if (found) detectedWindows++;
      else raw -= weights.falseNegative;
      continue;
    }
    if (detected[i] === 1) {
      detections++;
      if (previous === undefined) raw -= weights.falsePositive;
      else {
        const width = previous.last - previous.first + 1;
        raw += scaledSigmoid((i - previous.last) / Math.max(1, width - 1)) * weights.falsePositive;
      }
    }
    i++;
  }
  return { raw, counted, detectedWindows, detections, detectionsInWindows, probation };
}

/**
 * Scores one series' detections the way NAB does (see the module comment).
 *
 * @param detected 1 for each point the detector flagged, indexed like the series.
 * @param windows the labelled windows as point indices, sorted and disjoint.
 * @example
 * // 1,000 points, one window over points 400..440, a detection at point 420:
 * nabFileScore(flags, [{ first: 400, last: 440 }], NAB_PROFILES.standard).raw; // 0.868237
 */
export function nabFileScore(detected: Uint8Array, windows: readonly RowWindow[], weights: NabWeights): NabFileScore {
  const scored = rawScore(detected, windows, weights);
  const perfectFlags = new Uint8Array(detected.length);
  for (const window of windows) if (window.last >= scored.probation) perfectFlags[Math.max(window.first, scored.probation)] = 1;
  return {
    raw: scored.raw,
    null: -weights.falseNegative * scored.counted,
    perfect: rawScore(perfectFlags, windows, weights).raw,
    windows: scored.counted,
    detectedWindows: scored.detectedWindows,
    detections: scored.detections,
    detectionsInWindows: scored.detectionsInWindows,
  };
}

/** Several series' scores summed and normalised: 0 for the null detector, 100 for the perfect one. */
export interface NabTotal extends NabFileScore {
  normalised: number;
  /** Scored detections inside a window / all scored detections; detected windows / windows; their harmonic mean (NaN when undefined). */
  precision: number;
  recall: number;
  f1: number;
}

/** The sum of several series' scores, normalised as NAB reports a detector's score on a corpus. */
export function nabTotal(files: readonly NabFileScore[]): NabTotal {
  const sum = (pick: (file: NabFileScore) => number) => files.reduce((total, file) => total + pick(file), 0);
  const total: NabFileScore = {
    raw: sum((file) => file.raw),
    null: sum((file) => file.null),
    perfect: sum((file) => file.perfect),
    windows: sum((file) => file.windows),
    detectedWindows: sum((file) => file.detectedWindows),
    detections: sum((file) => file.detections),
    detectionsInWindows: sum((file) => file.detectionsInWindows),
  };
  const precision = total.detections === 0 ? Number.NaN : total.detectionsInWindows / total.detections;
  const recall = total.windows === 0 ? Number.NaN : total.detectedWindows / total.windows;
  const span = total.perfect - total.null;
  return {
    ...total,
    normalised: span === 0 ? Number.NaN : (100 * (total.raw - total.null)) / span,
    precision,
    recall,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : Number.NaN,
  };
}
