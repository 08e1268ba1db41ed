/**
 * Scoring rides against a fitted ride-time model: too long or implausibly short for their
 * distance and hour, faster than any car drives, or farther than the fleet goes. Pure.
 */
import { dayOfWeekShift, DISTANCE_BINS, distanceBin, distanceBinCentre, hourCell, HOURS, isSupportedCell, logMinutes, type RideColumns, type RideTimeModel } from './model.js';

/** Verdict bits of a scored ride (0: nothing unusual). */
export const RIDE_VERDICT = {
  /** Longer than rides of its distance and hour take. */
  tooLong: 1,
  /** Shorter than rides of its distance and hour take. */
  tooShort: 2,
  /** Faster than `maxSpeed`: no car drives it. */
  tooFast: 4,
  /** Beyond the distances the fleet drives. */
  farDistance: 8,
} as const;

export interface RideTimeScoreOptions {
  /** Robust sigmas of ride time beyond which a ride is too long or too short. */
  sigmas: number;
  /** Robust sigmas of log distance above the fleet's median beyond which a ride goes too far. */
  distanceSigmas: number;
  /** Speed no ride reaches, in distance units per hour. */
  maxSpeed: number;
}

/** Per ride: the verdict and what it was compared with (band in minutes). */
export interface RideTimeScores {
  /** Bits of {@link RIDE_VERDICT}. */
  verdict: Uint8Array;
  /** 0..1: 0 at the threshold, towards 1 far beyond it (1 - threshold / how far). */
  score: Float64Array;
  /** Median ride time (minutes) of the rides it was compared with; NaN when none were. */
  expected: Float64Array;
  /** The band `sigmas` robust sigmas either side, in minutes. */
  low: Float64Array;
  high: Float64Array;
  /** Signed robust sigmas of the ride time from `expected`. */
  timeSigmas: Float64Array;
  /** Distance of the rides it was compared with when its own distance had too few (NaN: its own). */
  comparedDistance: Float64Array;
  /** Robust sigmas of the distance above the fleet's median distance (NaN: too few rides for a fleet band). */
  distanceSigmas: Float64Array;
}

/** Per cell: the cells whose bands bound its rides' times from above and below (see basesOf). */
interface CellBases {
  /** Cell bounding from above; -1: none. */
  upper: Int32Array;
  /** 1 when `upper` is a shorter distance, whose times scale up in proportion to distance. */
  upperScaled: Uint8Array;
  /** Cell bounding from below; -1: none. */
  lower: Int32Array;
}

/**
 * What the rides of each cell are compared with. Above: the cell itself when supported, else the
 * nearest supported longer distance at the same hour (no ride takes longer than a longer one),
 * else the nearest shorter one scaled in proportion to distance (the most time can grow with
 * distance). Below: the cell itself, else the nearest supported shorter distance.
 */
function basesOf(model: RideTimeModel): CellBases {
  const cells = HOURS * DISTANCE_BINS;
  const bases: CellBases = { upper: new Int32Array(cells).fill(-1), upperScaled: new Uint8Array(cells), lower: new Int32Array(cells).fill(-1) };
  for (let hour = 0; hour < HOURS; hour++) {
    const row = hour * DISTANCE_BINS;
    let below = -1;
    for (let bin = 0; bin < DISTANCE_BINS; bin++) {
      if (isSupportedCell(model, row + bin)) below = row + bin;
      bases.lower[row + bin] = below;
    }
    let above = -1;
    for (let bin = DISTANCE_BINS - 1; bin >= 0; bin--) {
      if (isSupportedCell(model, row + bin)) above = row + bin;
      bases.upper[row + bin] = above >= 0 ? above : bases.lower[row + bin];
      bases.upperScaled[row + bin] = above < 0 && bases.lower[row + bin] >= 0 ? 1 : 0;
    }
  }
  return bases;
}

/**
 * Scores every ride of `rides` against `model` (fitted on them or on a window that holds them).
 * Rides with a non-finite distance, time or hour get verdict 0 and NaN bands.
 *
 * @example
 * const scores = scoreRideTimes(model, day, { sigmas: 5, distanceSigmas: 4, maxSpeed: 150 });
 * scores.verdict[i] & RIDE_VERDICT.tooLong // ride i took far longer than rides of its distance at its hour
 */
export function scoreRideTimes(model: RideTimeModel, rides: RideColumns, options: RideTimeScoreOptions): RideTimeScores {
  const count = rides.distance.length;
  const scores: RideTimeScores = {
    verdict: new Uint8Array(count),
    score: new Float64Array(count),
    expected: new Float64Array(count).fill(Number.NaN),
    low: new Float64Array(count).fill(Number.NaN),
    high: new Float64Array(count).fill(Number.NaN),
    timeSigmas: new Float64Array(count).fill(Number.NaN),
    comparedDistance: new Float64Array(count).fill(Number.NaN),
    distanceSigmas: new Float64Array(count).fill(Number.NaN),
  };
  const { sigmas: threshold, distanceSigmas: distanceThreshold, maxSpeed } = options;
  const { medians, lowerSpreads, upperSpreads, distance: fleet } = model;
  // A distance band from fewer rides than a cell needs says nothing about the fleet.
  const fleetKnown = fleet.support >= model.minSupport;
  const bases = basesOf(model);
  for (let ride = 0; ride < count; ride++) {
    const distance = rides.distance[ride];
    const minutes = rides.durationMin[ride];
    if (!Number.isFinite(distance) || !Number.isFinite(minutes) || !Number.isFinite(rides.hourOfDay[ride])) continue;
    const hour = hourCell(rides.hourOfDay[ride]);
    const cell = hour * DISTANCE_BINS + distanceBin(distance);
    const shift = rides.dayOfWeek === undefined ? 0 : dayOfWeekShift(model, rides.dayOfWeek[ride], hour);
    const logTime = logMinutes(minutes);
    let verdict = 0;
    let score = 0;

    const upper = bases.upper[cell];
    const lower = bases.lower[cell];
    const upperCentre = upper < 0 ? Number.NaN : medians[upper] + shift + (bases.upperScaled[cell] === 1 ? Math.max(0, Math.log(distance / distanceBinCentre(upper % DISTANCE_BINS))) : 0);
    const lowerCentre = lower < 0 ? Number.NaN : medians[lower] + shift;
    const longSigmas = upper < 0 ? Number.NaN : (logTime - upperCentre) / upperSpreads[upper];
    const shortSigmas = lower < 0 ? Number.NaN : (logTime - lowerCentre) / lowerSpreads[lower];
    if (longSigmas > threshold) {
      verdict |= RIDE_VERDICT.tooLong;
      score = Math.max(score, 1 - threshold / longSigmas);
    }
    if (shortSigmas < -threshold) {
      verdict |= RIDE_VERDICT.tooShort;
      score = Math.max(score, 1 - threshold / -shortSigmas);
    }
    const speed = distance / (minutes / 60);
    if (distance > 0 && speed > maxSpeed) {
      verdict |= RIDE_VERDICT.tooFast;
      score = Math.max(score, 1 - maxSpeed / speed);
    }
    const distanceSigmas = !fleetKnown ? Number.NaN : distance > 0 ? (Math.log(distance) - fleet.median) / fleet.upperSpread : Number.NEGATIVE_INFINITY;
    scores.distanceSigmas[ride] = distanceSigmas;
    if (distanceSigmas > distanceThreshold) {
      verdict |= RIDE_VERDICT.farDistance;
      score = Math.max(score, 1 - distanceThreshold / distanceSigmas);
    }
    scores.verdict[ride] = verdict;
    scores.score[ride] = score;

    // The band shown is the one that judged the time: the longer distances' for a ride too long, the shorter ones' for one too short.
    const judgedByUpper = (verdict & RIDE_VERDICT.tooLong) !== 0 || ((verdict & RIDE_VERDICT.tooShort) === 0 && upper >= 0);
    const judged = judgedByUpper ? upper : lower;
    if (judged < 0) continue;
    const centre = judgedByUpper ? upperCentre : lowerCentre;
    scores.expected[ride] = Math.exp(centre);
    scores.low[ride] = Math.exp(centre - threshold * lowerSpreads[judged]);
    scores.high[ride] = Math.exp(centre + threshold * upperSpreads[judged]);
    scores.timeSigmas[ride] = judgedByUpper ? longSigmas : shortSigmas;
    scores.comparedDistance[ride] = judged === cell ? Number.NaN : distanceBinCentre(judged % DISTANCE_BINS);
  }
  return scores;
}
