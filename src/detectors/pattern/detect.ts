/**
 * Per-vehicle behaviour that no single ride shows: a vehicle repeating near-identical values
 * (distance, ride time) far more often than the rest of the fleet would, and a vehicle whose trips
 * follow each other back to back (the meter left running between fares) or overlap (two trips at
 * once) far more often than the fleet's. Each pattern is a one-sided test of the vehicle's count
 * against the fleet's rate (Poisson for repeats, binomial for gaps), at a false-alarm rate shared
 * out over every test made (Bonferroni), so a day of random rides flags nothing. Pure.
 */
import { groupByCode, type CodeGroups } from '../groups.js';
import { logBinomialTail, logPoissonTail } from './tails.js';

/** One day of trips as columns, one element per trip. */
export interface VehicleTrips {
  /** Vehicle of each trip, a dense code 0..vehicleCount-1 (-1: unknown, left out). */
  vehicle: Int32Array;
  vehicleCount: number;
  /** Values whose near-repeats are counted (e.g. distance, ride time). */
  values: readonly Float64Array[];
  /** Pickup and dropoff in minutes on one clock (e.g. since 1970); NaN: unknown. */
  startMin: Float64Array;
  endMin: Float64Array;
}

export interface PatternOptions {
  /** Values within this share of each other are near-identical (0.01: 1%)... */
  relativeTolerance: number;
  /** ...or within this absolute difference, per value column (the data's resolution). */
  absoluteTolerances: readonly number[];
  /** Expected number of false alarms per day over all vehicles and tests. */
  falseAlarms: number;
  /** Fewest repeats that can make a pattern. */
  minRepeats: number;
  /** A trip starting within this many minutes of the previous dropoff is back to back. */
  backToBackMinutes: number;
  /**
   * Above this share of overlapping consecutive trips in the whole fleet, a vehicle id is not one
   * car at a time (shared ids, sampled data) and overlaps are not tested.
   */
  maxFleetOverlapShare: number;
}

export type PatternKind = 'repeated' | 'back_to_back' | 'overlap';

/** A vehicle's pattern: what it did, how often, and how often the fleet would have. */
export interface VehiclePattern {
  vehicle: number;
  kind: PatternKind;
  /** For `repeated`: the value column and the range of the repeated values. */
  column: number;
  low: number;
  high: number;
  /** Trips (repeats) or gaps (back to back, overlaps) in the pattern. */
  count: number;
  /** The vehicle's trips (repeats) or gaps between consecutive trips. */
  total: number;
  /** What the fleet's rate predicts for this vehicle. */
  expected: number;
  /** ln of the tail probability of `count` given `expected`. */
  logPValue: number;
  /** 0..1: 0 at the significance threshold, towards 1 as the count gets more improbable. */
  score: number;
}

export interface PatternResult {
  /** Per trip: the strongest pattern it belongs to (index into `patterns`), -1 for none. */
  tripPattern: Int32Array;
  patterns: VehiclePattern[];
  fleet: {
    trips: number;
    gaps: number;
    backToBackShare: number;
    overlapShare: number;
    /** False when overlaps were common in the whole fleet and not tested (see maxFleetOverlapShare). */
    overlapsTested: boolean;
  };
}

/**
 * The fleet's values of one column as counts on a fine log grid with running totals, so that how
 * many fleet trips fall in a window is two lookups. The count covers every bin the window touches
 * (a little more than the window): the fleet's share is never underestimated, so a vehicle is
 * never flagged for lack of precision here.
 */
interface FleetCounts {
  /** ln of the smallest positive value: the grid's origin (values ≤ 0 share bin 0). */
  origin: number;
  /** Running totals: `totals[b]` trips in bins below b. */
  totals: Float64Array;
  /** Trips with a finite value. */
  trips: number;
}

// 0.25% wide bins: a window (at least 2% wide) is overestimated by at most half a bin at either end.
const FLEET_BIN_WIDTH = 0.0025;
const MAX_FLEET_BINS = 1 << 18;

/** The bin of a value by its log (-Infinity for values ≤ 0, which share bin 0). */
function fleetBinOfLog(fleet: FleetCounts, logValue: number): number {
  if (logValue === Number.NEGATIVE_INFINITY) return 0;
  const bin = 1 + Math.floor((logValue - fleet.origin) / FLEET_BIN_WIDTH);
  return bin < 1 ? 1 : bin >= fleet.totals.length - 1 ? fleet.totals.length - 2 : bin;
}

const logOf = (value: number) => (value > 0 ? Math.log(value) : Number.NEGATIVE_INFINITY);

/** The fleet's counts of one value column, over the trips of known vehicles (read in row order: sequential memory). */
function fleetCounts(column: Float64Array, vehicle: Int32Array): FleetCounts {
  let smallest = Infinity;
  let largest = 0;
  for (let row = 0; row < column.length; row++) {
    const value = column[row];
    if (vehicle[row] < 0 || !(value > 0 && value < Infinity)) continue;
    if (value < smallest) smallest = value;
    if (value > largest) largest = value;
  }
  const origin = smallest === Infinity ? 0 : Math.log(smallest);
  const bins = Math.min(MAX_FLEET_BINS, 2 + Math.ceil((Math.log(Math.max(largest, 1e-300)) - origin) / FLEET_BIN_WIDTH) + 1);
  const fleet: FleetCounts = { origin, totals: new Float64Array(Math.max(3, bins) + 1), trips: 0 };
  for (let row = 0; row < column.length; row++) {
    const value = column[row];
    if (vehicle[row] < 0 || !Number.isFinite(value)) continue;
    fleet.totals[fleetBinOfLog(fleet, logOf(value)) + 1]++;
    fleet.trips++;
  }
  for (let bin = 1; bin < fleet.totals.length; bin++) fleet.totals[bin] += fleet.totals[bin - 1];
  return fleet;
}

/** Fleet trips in the bins that [low, high] touches, given the logs of both ends. */
function fleetCountBetween(fleet: FleetCounts, logLow: number, logHigh: number): number {
  return fleet.totals[fleetBinOfLog(fleet, logHigh) + 1] - fleet.totals[fleetBinOfLog(fleet, logLow)];
}

/** The score of a tail probability against the significance threshold (both as logs). */
function significanceScore(logPValue: number, logThreshold: number): number {
  return logPValue === Number.NEGATIVE_INFINITY ? 1 : 1 - logThreshold / logPValue;
}

interface Context {
  trips: VehicleTrips;
  options: PatternOptions;
  /** Trips grouped by vehicle. */
  groups: CodeGroups;
  result: PatternResult;
}

/** Adds a pattern and marks its trips (a trip keeps the strongest of its patterns). */
function addPattern(context: Context, pattern: VehiclePattern, trips: Iterable<number>): void {
  const { result } = context;
  const index = result.patterns.push(pattern) - 1;
  for (const trip of trips) {
    const current = result.tripPattern[trip];
    if (current < 0 || result.patterns[current].score < pattern.score) result.tripPattern[trip] = index;
  }
}

/**
 * Near-repeats of each value column per vehicle: every window of near-identical values the vehicle
 * holds (from each of its values up to the tolerance above it) against how many of the vehicle's
 * trips the rest of the fleet's share in that window predicts. `tests` is how many windows are
 * tested in all, over which the false-alarm rate is shared.
 */
function findRepeats(context: Context, tests: number): void {
  const { trips, options, groups } = context;
  const logThreshold = Math.log(options.falseAlarms / Math.max(1, tests));
  let largestGroup = 0;
  for (let vehicle = 0; vehicle < trips.vehicleCount; vehicle++) largestGroup = Math.max(largestGroup, groups.starts[vehicle + 1] - groups.starts[vehicle]);
  const scratch = new Float64Array(largestGroup);
  const logs = new Float64Array(largestGroup);
  // Where the relative tolerance applies, a window's upper end is a fixed step above its lower one on the log scale.
  const relativeLogWidth = Math.log1p(2 * options.relativeTolerance);
  trips.values.forEach((column, c) => {
    const fleet = fleetCounts(column, trips.vehicle);
    for (let vehicle = 0; vehicle < trips.vehicleCount; vehicle++) {
      const rows = groups.rows.subarray(groups.starts[vehicle], groups.starts[vehicle + 1]);
      let own = 0;
      for (let k = 0; k < rows.length; k++) if (Number.isFinite(column[rows[k]])) scratch[own++] = column[rows[k]];
      if (own < options.minRepeats) continue;
      const values = scratch.subarray(0, own).sort();
      for (let k = 0; k < own; k++) logs[k] = logOf(values[k]);
      const others = Math.max(1, fleet.trips - own);
      // Significant windows, merged where they overlap (their lows only grow).
      const windows: [number, number][] = [];
      let best: VehiclePattern | undefined;
      for (let first = 0, last = 0; first + options.minRepeats <= own; first++) {
        const low = values[first];
        const relative = options.relativeTolerance * Math.abs(low) >= options.absoluteTolerances[c];
        const high = low + 2 * (relative ? options.relativeTolerance * Math.abs(low) : options.absoluteTolerances[c]);
        last = Math.max(last, first);
        while (last + 1 < own && values[last + 1] <= high) last++;
        const count = last - first + 1;
        if (count < options.minRepeats) continue;
        // The fleet's share of the window without this vehicle's own trips; half a trip when none.
        const logHigh = relative && low > 0 ? logs[first] + relativeLogWidth : logOf(high);
        const share = Math.max(0.5, fleetCountBetween(fleet, logs[first], logHigh) - count) / others;
        // Most windows are ordinary: the Chernoff bound on the tail, e^-λ (eλ/k)^k, already says so
        // without summing it (and without a log when k ≤ eλ, where it is at least e^-λ).
        const expected = own * share;
        if (count <= expected || (count <= Math.E * expected && -expected >= logThreshold)) continue;
        if (count * (1 + Math.log(expected / count)) - expected >= logThreshold) continue;
        const logPValue = logPoissonTail(count, expected);
        if (logPValue >= logThreshold) continue;
        const previous = windows.at(-1);
        if (previous !== undefined && low <= previous[1]) previous[1] = Math.max(previous[1], values[last]);
        else windows.push([low, values[last]]);
        if (best === undefined || logPValue < best.logPValue) {
          best = { vehicle, kind: 'repeated', column: c, low, high: values[last], count, total: own, expected, logPValue, score: significanceScore(logPValue, logThreshold) };
        }
      }
      if (best === undefined) continue;
      const flagged = [...rows].filter((row) => windows.some(([low, high]) => column[row] >= low && column[row] <= high));
      addPattern(context, { ...best, low: windows[0][0], high: windows[windows.length - 1][1], count: flagged.length }, flagged);
    }
  });
}

const GAP_BACK_TO_BACK = 1;
const GAP_OVERLAP = 2;
// Trips are put in pickup order by the second; a span longer than this is sorted by comparison.
const MAX_SECONDS_BUCKETS = 1 << 22;

/** The trips with a pickup and a dropoff, in pickup order (ties in row order). */
function tripsByStart(trips: VehicleTrips): Int32Array {
  const { startMin, endMin } = trips;
  let valid = 0;
  let first = Infinity;
  let last = -Infinity;
  for (let row = 0; row < startMin.length; row++) {
    if (!Number.isFinite(startMin[row]) || !Number.isFinite(endMin[row])) continue;
    valid++;
    first = Math.min(first, startMin[row]);
    last = Math.max(last, startMin[row]);
  }
  const buckets = Math.floor((last - first) * 60) + 1;
  if (!(buckets <= MAX_SECONDS_BUCKETS)) {
    const rows = Int32Array.from({ length: startMin.length }, (_, row) => row).filter((row) => Number.isFinite(startMin[row]) && Number.isFinite(endMin[row]));
    return rows.sort((a, b) => startMin[a] - startMin[b] || a - b);
  }
  // Seconds since the first pickup as codes; trips without both times are left out (-1).
  const second = new Int32Array(startMin.length);
  for (let row = 0; row < startMin.length; row++) second[row] = Number.isFinite(startMin[row]) && Number.isFinite(endMin[row]) ? Math.floor((startMin[row] - first) * 60) : -1;
  const { rows } = groupByCode(second, buckets);
  return rows.length === valid ? rows : rows.subarray(0, valid);
}

/**
 * Gaps between each vehicle's consecutive trips (next pickup minus this dropoff): back to back
 * within `backToBackMinutes` either way, overlapping when the next trip starts earlier still.
 */
function findGapPatterns(context: Context): void {
  const { trips, options, result } = context;
  const { rows, starts } = groupByCode(trips.vehicle, trips.vehicleCount, tripsByStart(trips));
  // Per consecutive pair (k, k + 1) of `rows`: 1 back to back, 2 overlapping, 0 neither.
  const gapKinds = new Uint8Array(rows.length);
  const counts = { back_to_back: new Int32Array(trips.vehicleCount), overlap: new Int32Array(trips.vehicleCount) };
  const fleetCounts = { back_to_back: 0, overlap: 0 };
  let gaps = 0;
  for (let vehicle = 0; vehicle < trips.vehicleCount; vehicle++) {
    for (let k = starts[vehicle]; k + 1 < starts[vehicle + 1]; k++) {
      gaps++;
      const gap = trips.startMin[rows[k + 1]] - trips.endMin[rows[k]];
      if (gap < -options.backToBackMinutes) {
        gapKinds[k] = GAP_OVERLAP;
        counts.overlap[vehicle]++;
        fleetCounts.overlap++;
      } else if (gap <= options.backToBackMinutes) {
        gapKinds[k] = GAP_BACK_TO_BACK;
        counts.back_to_back[vehicle]++;
        fleetCounts.back_to_back++;
      }
    }
  }
  result.fleet.gaps = gaps;
  result.fleet.backToBackShare = gaps > 0 ? fleetCounts.back_to_back / gaps : 0;
  result.fleet.overlapShare = gaps > 0 ? fleetCounts.overlap / gaps : 0;
  result.fleet.overlapsTested = result.fleet.overlapShare <= options.maxFleetOverlapShare;
  const kinds: ('back_to_back' | 'overlap')[] = result.fleet.overlapsTested ? ['back_to_back', 'overlap'] : ['back_to_back'];
  const logThreshold = Math.log(options.falseAlarms / Math.max(1, kinds.length * trips.vehicleCount));
  for (const kind of kinds) {
    const code = kind === 'overlap' ? GAP_OVERLAP : GAP_BACK_TO_BACK;
    for (let vehicle = 0; vehicle < trips.vehicleCount; vehicle++) {
      const count = counts[kind][vehicle];
      const total = Math.max(0, starts[vehicle + 1] - starts[vehicle] - 1);
      if (count < options.minRepeats) continue;
      // The rest of the fleet's rate; half a gap when it never happens there.
      const rate = Math.min(1, Math.max(0.5, fleetCounts[kind] - count) / Math.max(1, gaps - total));
      const logPValue = logBinomialTail(count, total, rate);
      if (logPValue >= logThreshold) continue;
      const flagged = new Set<number>();
      for (let k = starts[vehicle]; k + 1 < starts[vehicle + 1]; k++) {
        if (gapKinds[k] !== code) continue;
        flagged.add(rows[k]);
        flagged.add(rows[k + 1]);
      }
      addPattern(context, { vehicle, kind, column: -1, low: Number.NaN, high: Number.NaN, count, total, expected: total * rate, logPValue, score: significanceScore(logPValue, logThreshold) }, flagged);
    }
  }
}

/**
 * Finds every vehicle pattern of a day of trips, and for each trip the strongest pattern it is
 * part of.
 *
 * @example
 * const { patterns, tripPattern } = detectVehiclePatterns(trips, options);
 * // a taxi whose meter logged 0.07 km for 55 of its 88 trips, where the fleet has 1 such trip in 100k:
 * // → [{ vehicle: 3, kind: 'repeated', column: 0, low: 0.065, high: 0.075, count: 55, total: 88, expected: 0.0004, ... }]
 */
export function detectVehiclePatterns(trips: VehicleTrips, options: PatternOptions): PatternResult {
  const groups = groupByCode(trips.vehicle, trips.vehicleCount);
  const result: PatternResult = {
    tripPattern: new Int32Array(trips.vehicle.length).fill(-1),
    patterns: [],
    fleet: { trips: groups.rows.length, gaps: 0, backToBackShare: 0, overlapShare: 0, overlapsTested: false },
  };
  const context: Context = { trips, options, groups, result };
  // Every trip opens one window per value column: that many repeat tests.
  findRepeats(context, groups.rows.length * trips.values.length);
  findGapPatterns(context);
  return result;
}
