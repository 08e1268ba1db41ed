/**
 * Expected ride time given distance and time of day, learnt robustly from a day (or a window of
 * days) of rides: a histogram of log ride time per cell of (hour of day, log-distance bin) gives
 * each cell's median; the quartiles of rides' residuals from their cell's median (and, with weeks
 * of history, from their day of week's shift) give its lower and upper spreads, as robust sigmas.
 * Pure: typed arrays in, a model out.
 *
 * Robustness is what lets it see the anomalies DBSCAN cannot once they are dense: each vehicle
 * counts once per cell (a taxi with a stuck meter logging fifty rides of 0.07 km is one vote, not
 * fifty), a cell needs `minSupport` such votes before its band is trusted (sparser cells pool
 * their neighbouring hours and distances first), and a cell that stays unsupported is judged by
 * the nearest supported distances on either side, since a ride never takes less time than a
 * shorter one nor more than a longer one at the same hour.
 */
import { groupByCode } from '../groups.js';

/** One day (or window) of rides as columns, one element per ride. */
export interface RideColumns {
  /** Ride distance, ≥ 0, in the data's unit (km or mi). */
  distance: Float64Array;
  /** Ride time in minutes, ≥ 0. */
  durationMin: Float64Array;
  /** Pickup time of day in hours, [0, 24). */
  hourOfDay: Float64Array;
  /** Pickup day of week 0..6, for models fitted `byDayOfWeek`. */
  dayOfWeek?: Uint8Array;
  /** Vehicle of each ride as a dense code 0..vehicleCount-1 (-1: unknown, counted as its own vehicle). */
  vehicle?: Int32Array;
  vehicleCount?: number;
  /** Day of each ride within a window of days, 0..dayCount-1 (a vehicle counts once per distance bin and day); default: one day. */
  day?: Int32Array;
  dayCount?: number;
}

export interface RideTimeModelOptions {
  /** Distinct vehicles a cell needs before its band is trusted (after pooling neighbours). */
  minSupport: number;
  /** Also shift each cell by its day of week and hour (use with a window of two weeks or more). */
  byDayOfWeek: boolean;
}

/** The band of one (hour, distance) cell, on the log scale of minutes. */
export interface CellBand {
  /** Median log ride time. */
  median: number;
  /** Robust sigmas below and above the median (quartile distance / 0.6745). */
  lowerSpread: number;
  upperSpread: number;
  /** Vehicles behind the band (each counted once per cell). */
  support: number;
}

/** A fitted model: read it with {@link cellBand}, {@link isSupportedCell} and {@link dayOfWeekShift}. */
export interface RideTimeModel {
  minSupport: number;
  /** Per cell `hour * DISTANCE_BINS + bin`: median log ride time (-Infinity: fewer than `minSupport` vehicles, even pooled). */
  medians: Float64Array;
  /** Per cell: robust sigmas of log ride time below and above the median. */
  lowerSpreads: Float64Array;
  upperSpreads: Float64Array;
  /** Per cell: vehicles behind its median (each counted once per distance bin). */
  supports: Float64Array;
  /** Log-distance band of the fleet (median and robust sigmas), for distances beyond it. */
  distance: CellBand;
  /** Additive log shift per `dayOfWeek * 24 + hour` (zeros when not fitted by day of week). */
  dayOfWeekShifts: Float64Array;
  /** Rides the model was fitted on. */
  rides: number;
}

export const HOURS = 24;
const DISTANCE_LOG_ORIGIN = Math.log(0.005);
/** Log-distance bin width: rides within ~10% of each other's distance share a cell. */
export const DISTANCE_BIN_WIDTH = 0.1;
export const DISTANCE_BINS = 140;
const DURATION_LOG_ORIGIN = Math.log(0.05);
const DURATION_BIN_WIDTH = 0.05;
const DURATION_BINS = 230;
// Quartile distance from the median of a normal distribution, in sigmas.
const QUARTILE_SIGMAS = 0.6744897501960817;
// A floor on spreads: identical ride times (a flat-rate zone) must not make every other time extreme.
const MIN_LOG_SPREAD = 0.05;
/** Spreads are read from a neighbourhood of this many times `minSupport` vehicles (see fitRideTimeModel). */
const SPREAD_SUPPORT_FACTOR = 4;
// Residuals from a cell's median, on the log scale: ±2 (a factor of 7.4) in steps of 2%.
const RESIDUAL_ORIGIN = -2;
const RESIDUAL_BIN_WIDTH = 0.02;
const RESIDUAL_BINS = 200;

/** Neighbourhoods a sparse cell widens through, in order: ±hours, ±distance bins (12 hours: all). */
const POOLING: readonly (readonly [number, number])[] = [
  [0, 0],
  [1, 0],
  [1, 1],
  [2, 1],
  [2, 2],
  [12, 2],
];

/** The log-distance bin of a distance (0 and anything shorter than the grid: the first bin). */
export function distanceBin(distance: number): number {
  if (!(distance > 0)) return 0;
  const bin = Math.floor((Math.log(distance) - DISTANCE_LOG_ORIGIN) / DISTANCE_BIN_WIDTH);
  return bin < 0 ? 0 : bin >= DISTANCE_BINS ? DISTANCE_BINS - 1 : bin;
}

/** The geometric centre of a distance bin, in the data's distance unit. */
export function distanceBinCentre(bin: number): number {
  return Math.exp(DISTANCE_LOG_ORIGIN + (bin + 0.5) * DISTANCE_BIN_WIDTH);
}

/** Log of a ride time as the model sees it (0 minutes counts as the grid's shortest time). */
export function logMinutes(minutes: number): number {
  return Math.log(Math.max(minutes, Math.exp(DURATION_LOG_ORIGIN)));
}

/** The hour cell (0..23) of a time of day in hours. */
export function hourCell(hourOfDay: number): number {
  const hour = Math.floor(hourOfDay);
  return ((hour % HOURS) + HOURS) % HOURS;
}

/**
 * Weights that count each vehicle once per distance bin and day, whichever hours its rides fall
 * in: 1 / (the vehicle's rides in the ride's distance bin that day). Rides of unknown vehicles weigh 1.
 */
function vehicleWeights(cells: Int32Array, rides: RideColumns): Float64Array {
  const weights = new Float64Array(cells.length).fill(1);
  const { vehicle, vehicleCount, day } = rides;
  if (vehicle === undefined || vehicleCount === undefined) return weights;
  const slots = DISTANCE_BINS * (day === undefined ? 1 : (rides.dayCount ?? 1));
  const { rows, starts } = groupByCode(vehicle, vehicleCount);
  // Each grouped ride's slot (-1: no cell), gathered once so that the passes below read in order.
  const slotOfGrouped = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k];
    slotOfGrouped[k] = cells[row] < 0 ? -1 : (day === undefined ? 0 : day[row] * DISTANCE_BINS) + (cells[row] % DISTANCE_BINS);
  }
  const perSlot = new Int32Array(slots);
  for (let code = 0; code < vehicleCount; code++) {
    for (let k = starts[code]; k < starts[code + 1]; k++) if (slotOfGrouped[k] >= 0) perSlot[slotOfGrouped[k]]++;
    for (let k = starts[code]; k < starts[code + 1]; k++) if (slotOfGrouped[k] >= 0) weights[rows[k]] = 1 / perSlot[slotOfGrouped[k]];
    for (let k = starts[code]; k < starts[code + 1]; k++) if (slotOfGrouped[k] >= 0) perSlot[slotOfGrouped[k]] = 0;
  }
  return weights;
}

/** Median and quartile spreads of a weighted histogram (linear within bins); NaN when empty. */
function histogramBand(histogram: ArrayLike<number>, origin: number, width: number): CellBand {
  let total = 0;
  for (let bin = 0; bin < histogram.length; bin++) total += histogram[bin];
  if (total <= 0) return { median: Number.NaN, lowerSpread: Number.NaN, upperSpread: Number.NaN, support: 0 };
  const targets = [0.25 * total, 0.5 * total, 0.75 * total];
  const quantiles = [Number.NaN, Number.NaN, Number.NaN];
  let cumulative = 0;
  let next = 0;
  for (let bin = 0; bin < histogram.length && next < 3; bin++) {
    const weight = histogram[bin];
    while (next < 3 && weight > 0 && cumulative + weight >= targets[next]) {
      quantiles[next] = origin + (bin + (targets[next] - cumulative) / weight) * width;
      next++;
    }
    cumulative += weight;
  }
  const [lowerQuartile, median, upperQuartile] = quantiles;
  return {
    median,
    lowerSpread: Math.max(MIN_LOG_SPREAD, (median - lowerQuartile) / QUARTILE_SIGMAS),
    upperSpread: Math.max(MIN_LOG_SPREAD, (upperQuartile - median) / QUARTILE_SIGMAS),
    support: total,
  };
}

/** Per-cell weighted histograms on one grid, with their totals, and per distance bin over all hours. */
interface CellHistograms {
  bins: number;
  origin: number;
  width: number;
  cells: Float32Array;
  allHours: Float64Array;
  cellTotals: Float64Array;
  allHourTotals: Float64Array;
}

function cellHistograms(bins: number, origin: number, width: number): CellHistograms {
  return {
    bins,
    origin,
    width,
    cells: new Float32Array(HOURS * DISTANCE_BINS * bins),
    allHours: new Float64Array(DISTANCE_BINS * bins),
    cellTotals: new Float64Array(HOURS * DISTANCE_BINS),
    allHourTotals: new Float64Array(DISTANCE_BINS),
  };
}

function addTo(histograms: CellHistograms, cell: number, value: number, weight: number): void {
  const raw = Math.floor((value - histograms.origin) / histograms.width);
  const bin = raw < 0 ? 0 : raw >= histograms.bins ? histograms.bins - 1 : raw;
  const distance = cell % DISTANCE_BINS;
  histograms.cells[cell * histograms.bins + bin] += weight;
  histograms.allHours[distance * histograms.bins + bin] += weight;
  histograms.cellTotals[cell] += weight;
  histograms.allHourTotals[distance] += weight;
}

/** The cells of pooling level `level` around `cell`, as calls of `visit`; all hours use the all-hour sums. */
function forEachPooledCell(cell: number, level: number, visit: (source: 'cell' | 'all-hours', index: number) => void): void {
  const hour = Math.floor(cell / DISTANCE_BINS);
  const bin = cell % DISTANCE_BINS;
  const [hourReach, binReach] = POOLING[level];
  const allHours = hourReach >= HOURS / 2;
  for (let b = Math.max(0, bin - binReach); b <= Math.min(DISTANCE_BINS - 1, bin + binReach); b++) {
    if (allHours) visit('all-hours', b);
    else for (let h = -hourReach; h <= hourReach; h++) visit('cell', ((hour + h + HOURS) % HOURS) * DISTANCE_BINS + b);
  }
}

/**
 * The band of the first neighbourhood of `cell` (see POOLING) whose histograms hold `support`
 * weight, else of the widest; `support` of the band says which.
 */
function pooledBand(histograms: CellHistograms, cell: number, support: number): CellBand {
  let level = 0;
  for (; level < POOLING.length - 1; level++) {
    let total = 0;
    forEachPooledCell(cell, level, (source, index) => (total += source === 'cell' ? histograms.cellTotals[index] : histograms.allHourTotals[index]));
    if (total >= support) break;
  }
  const pooled = new Float64Array(histograms.bins);
  forEachPooledCell(cell, level, (source, index) => {
    const counts = source === 'cell' ? histograms.cells : histograms.allHours;
    const offset = index * histograms.bins;
    for (let t = 0; t < histograms.bins; t++) pooled[t] += counts[offset + t];
  });
  return histogramBand(pooled, histograms.origin, histograms.width);
}

/**
 * How much longer (log) rides of each hour take than rides of the same distance over the whole
 * day: per hour, the weighted median of rides' log times less their distance bin's median (0 for
 * an hour with fewer than `minSupport` vehicles).
 */
function hourOfDayShifts(cells: Int32Array, logTimes: Float64Array, weights: Float64Array, minSupport: number): Float64Array {
  const byDistance = new Float64Array(DISTANCE_BINS * DURATION_BINS);
  const rawBin = (value: number, origin: number, width: number, bins: number) => Math.min(bins - 1, Math.max(0, Math.floor((value - origin) / width)));
  for (let ride = 0; ride < cells.length; ride++) {
    if (cells[ride] >= 0) byDistance[(cells[ride] % DISTANCE_BINS) * DURATION_BINS + rawBin(logTimes[ride], DURATION_LOG_ORIGIN, DURATION_BIN_WIDTH, DURATION_BINS)] += weights[ride];
  }
  const distanceMedians = Float64Array.from({ length: DISTANCE_BINS }, (_, bin) => {
    const band = histogramBand(byDistance.subarray(bin * DURATION_BINS, (bin + 1) * DURATION_BINS), DURATION_LOG_ORIGIN, DURATION_BIN_WIDTH);
    return band.support >= minSupport ? band.median : Number.NaN;
  });
  const byHour = new Float64Array(HOURS * RESIDUAL_BINS);
  for (let ride = 0; ride < cells.length; ride++) {
    if (cells[ride] < 0) continue;
    const median = distanceMedians[cells[ride] % DISTANCE_BINS];
    if (Number.isNaN(median)) continue;
    byHour[Math.floor(cells[ride] / DISTANCE_BINS) * RESIDUAL_BINS + rawBin(logTimes[ride] - median, RESIDUAL_ORIGIN, RESIDUAL_BIN_WIDTH, RESIDUAL_BINS)] += weights[ride];
  }
  return Float64Array.from({ length: HOURS }, (_, hour) => {
    const band = histogramBand(byHour.subarray(hour * RESIDUAL_BINS, (hour + 1) * RESIDUAL_BINS), RESIDUAL_ORIGIN, RESIDUAL_BIN_WIDTH);
    return band.support >= minSupport ? band.median : 0;
  });
}

/**
 * Fits the model on `rides` (rides with a non-finite distance, time or hour are left out). Each
 * cell's median comes from the first neighbourhood with `minSupport` vehicles, its hours brought
 * to the cell's own by each hour's overall shift; its spreads, which need more rides to be stable
 * and vary slowly with hour and distance, from the first neighbourhood with SPREAD_SUPPORT_FACTOR
 * times as many rides' residuals.
 *
 * @example
 * const model = fitRideTimeModel({ distance, durationMin, hourOfDay, vehicle, vehicleCount }, { minSupport: 50, byDayOfWeek: false });
 * cellBand(model, hourCell(8.5), distanceBin(5.2)); // → { median: 2.9, lowerSpread: 0.2, upperSpread: 0.25, support: 412 }
 */
export function fitRideTimeModel(rides: RideColumns, options: RideTimeModelOptions): RideTimeModel {
  const count = rides.distance.length;
  const cellCount = HOURS * DISTANCE_BINS;
  const cells = new Int32Array(count);
  const logTimes = new Float64Array(count);
  let fitted = 0;
  for (let ride = 0; ride < count; ride++) {
    const distance = rides.distance[ride];
    const minutes = rides.durationMin[ride];
    const hour = rides.hourOfDay[ride];
    if (!Number.isFinite(distance) || !Number.isFinite(minutes) || !Number.isFinite(hour)) {
      cells[ride] = -1;
      continue;
    }
    cells[ride] = hourCell(hour) * DISTANCE_BINS + distanceBin(distance);
    logTimes[ride] = logMinutes(minutes);
    fitted++;
  }
  const weights = vehicleWeights(cells, rides);
  const hourShifts = hourOfDayShifts(cells, logTimes, weights, options.minSupport);
  // Times adjusted to a common hour: a sparse cell pooled with neighbouring hours keeps its own hour's level.
  const times = cellHistograms(DURATION_BINS, DURATION_LOG_ORIGIN, DURATION_BIN_WIDTH);
  const distanceHistogram = new Float64Array(DISTANCE_BINS);
  for (let ride = 0; ride < count; ride++) {
    if (cells[ride] < 0) continue;
    addTo(times, cells[ride], logTimes[ride] - hourShifts[Math.floor(cells[ride] / DISTANCE_BINS)], weights[ride]);
    distanceHistogram[cells[ride] % DISTANCE_BINS]++;
  }
  const model: RideTimeModel = {
    minSupport: options.minSupport,
    medians: new Float64Array(cellCount).fill(Number.NEGATIVE_INFINITY),
    lowerSpreads: new Float64Array(cellCount).fill(Number.NaN),
    upperSpreads: new Float64Array(cellCount).fill(Number.NaN),
    supports: new Float64Array(cellCount),
    distance: histogramBand(distanceHistogram, DISTANCE_LOG_ORIGIN, DISTANCE_BIN_WIDTH),
    dayOfWeekShifts: new Float64Array(7 * HOURS),
    rides: fitted,
  };
  for (let cell = 0; cell < cellCount; cell++) {
    const band = pooledBand(times, cell, options.minSupport);
    model.supports[cell] = band.support;
    if (band.support >= options.minSupport) model.medians[cell] = band.median + hourShifts[Math.floor(cell / DISTANCE_BINS)];
  }
  const dayOfWeek = options.byDayOfWeek ? rides.dayOfWeek : undefined;
  if (dayOfWeek !== undefined) fitDayOfWeekShifts(model, dayOfWeek, cells, logTimes, weights);
  const residuals = cellHistograms(RESIDUAL_BINS, RESIDUAL_ORIGIN, RESIDUAL_BIN_WIDTH);
  for (let ride = 0; ride < count; ride++) {
    const cell = cells[ride];
    if (cell < 0 || !isSupportedCell(model, cell)) continue;
    const shift = dayOfWeek === undefined ? 0 : dayOfWeekShift(model, dayOfWeek[ride], Math.floor(cell / DISTANCE_BINS));
    addTo(residuals, cell, logTimes[ride] - model.medians[cell] - shift, weights[ride]);
  }
  for (let cell = 0; cell < cellCount; cell++) {
    if (!isSupportedCell(model, cell)) continue;
    const spread = pooledBand(residuals, cell, SPREAD_SUPPORT_FACTOR * options.minSupport);
    model.lowerSpreads[cell] = spread.lowerSpread;
    model.upperSpreads[cell] = spread.upperSpread;
  }
  return model;
}

/** The band of cell (hour, bin); its `support` below the model's `minSupport` when it has no band. */
export function cellBand(model: RideTimeModel, hour: number, bin: number): CellBand {
  const cell = hour * DISTANCE_BINS + bin;
  return { median: model.medians[cell], lowerSpread: model.lowerSpreads[cell], upperSpread: model.upperSpreads[cell], support: model.supports[cell] };
}

/** Whether cell `cell` (`hour * DISTANCE_BINS + bin`) has a band: `minSupport` vehicles, pooled if need be. */
export function isSupportedCell(model: RideTimeModel, cell: number): boolean {
  return Number.isFinite(model.medians[cell]);
}

/** The log shift of rides on `dayOfWeek` at `hour` (0 unless fitted by day of week). */
export function dayOfWeekShift(model: RideTimeModel, dayOfWeek: number, hour: number): number {
  return dayOfWeek >= 0 && dayOfWeek < 7 ? model.dayOfWeekShifts[dayOfWeek * HOURS + hour] : 0;
}

/**
 * Per (day of week, hour): the weighted median of rides' log residuals from their cell's median,
 * where that day and hour have `minSupport` vehicles; 0 elsewhere.
 */
function fitDayOfWeekShifts(model: RideTimeModel, dayOfWeek: Uint8Array, cells: Int32Array, logTimes: Float64Array, weights: Float64Array): void {
  const histograms = new Float64Array(7 * HOURS * RESIDUAL_BINS);
  for (let ride = 0; ride < cells.length; ride++) {
    const cell = cells[ride];
    const day = dayOfWeek[ride];
    if (cell < 0 || day >= 7 || !isSupportedCell(model, cell)) continue;
    const hour = Math.floor(cell / DISTANCE_BINS);
    const bin = Math.floor((logTimes[ride] - model.medians[cell] - RESIDUAL_ORIGIN) / RESIDUAL_BIN_WIDTH);
    histograms[(day * HOURS + hour) * RESIDUAL_BINS + (bin < 0 ? 0 : bin >= RESIDUAL_BINS ? RESIDUAL_BINS - 1 : bin)] += weights[ride];
  }
  for (let slot = 0; slot < 7 * HOURS; slot++) {
    const band = histogramBand(histograms.subarray(slot * RESIDUAL_BINS, (slot + 1) * RESIDUAL_BINS), RESIDUAL_ORIGIN, RESIDUAL_BIN_WIDTH);
    model.dayOfWeekShifts[slot] = band.support >= model.minSupport ? band.median : 0;
  }
}
