/**
 * A streaming detector for minute-to-hour series: one pass, O(1) work per point and a fixed-size
 * state per entity, so a day's points continue exactly where the previous day's stopped.
 *
 * Model, on y = sign(x)·log(1 + |x|) (relative changes of counts, near-linear for small values):
 * - expected y = baseline + season[slot] + offset. The baseline follows the series over about a
 *   day, the season is the usual deviation of each hour of the week (each hour of the day until
 *   that hour of the week has been seen), the offset follows the last few points (short drifts).
 * - The residual is judged in robust sigmas of its own hour of day (quiet hours are noisier).
 *   The bar adapts to the series: |z| must exceed `threshold` and `tailMargin` times the series'
 *   own 1-in-1000 |z| (tracked online), so bursts a series often has do not alert each time.
 *   Updates use the residual clipped at `clip` sigmas (Huber), so an anomaly barely moves the
 *   model while a lasting change is learnt within hours.
 * - Short context: the recent mean of clipped residuals beyond `shiftSigmas` is a shift, one each
 *   point of which is too small to alert alone.
 * - An alert is raised once per excursion: the points after it are flagged again only once the
 *   series has come back within half the threshold for `calmPoints` points, so a level shift
 *   or an outage gives one alert, not one per point.
 * - A value repeated far longer than the series ever repeats itself (a stuck exporter) is an
 *   anomaly too: the run is flagged once its chance under the series' own rate of repeats falls
 *   below `repeatChance`.
 * Gains are set per visit of a slot rather than per point (from the series' own spacing), so the
 * same defaults serve minute and hourly data.
 */

/** Options of the streaming detector; every one has a default that holds across series. */
export interface StreamOptions {
  /** Robust sigmas of the residual beyond which a point is anomalous. Default 5. */
  threshold?: number;
  /** Residuals are clipped at this many sigmas before updating the model. Default 3. */
  clip?: number;
  /** Points back within threshold / 2 that end an excursion. Default 5. */
  calmPoints?: number;
  /** Points before the first alert (the model is learning). Default 100, and at least one day. */
  warmupPoints?: number;
  /** A run of repeated values is anomalous once its chance falls below this. Default 1e-6. */
  repeatChance?: number;
  /** The series' own rare residuals: the share of points above the tracked tail. Default 0.001. */
  tailShare?: number;
  /** An alert needs |z| above this many times the tracked tail too. Default 1.5. */
  tailMargin?: number;
  /** A shift: the recent mean of residuals (each clipped at `clip` sigmas, over about `shiftPoints` points) beyond this many sigmas. Default 2. */
  shiftSigmas?: number;
  shiftPoints?: number;
}

/** The defaults of every option. */
export const STREAM_DEFAULTS: { [K in keyof StreamOptions]-?: NonNullable<StreamOptions[K]> } = { threshold: 5, clip: 3, calmPoints: 5, warmupPoints: 100, repeatChance: 1e-6, tailShare: 0.001, tailMargin: 1.5, shiftSigmas: 2, shiftPoints: 5 };

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const HOURS_PER_WEEK = 168;
/** Share of a slot's value replaced by each visit of it: about the last three visits count. */
const SLOT_GAIN_PER_VISIT = 0.3;
/** Half-life of the baseline, in days, and of the short offset, in points. */
const BASELINE_HALF_LIFE_DAYS = 1;
const OFFSET_HALF_LIFE_POINTS = 6;
/** Half-life of the rate of repeated values, in points. */
const REPEAT_HALF_LIFE_POINTS = 2000;
/** Smallest residual scale: values closer than this (0.1% of a count, 0.001 of a small value) are equal. */
const MIN_SCALE = 1e-3;
/** Below this rate of repeats, a series is taken to repeat a value 1 time in 100 anyway. */
const MIN_REPEAT_RATE = 0.01;

// The state is one Float64Array: scalars first, then the slots. Its length never changes.
const FIRST_TIME = 0;
const LAST_TIME = 1;
const POINTS = 2;
const SPACING_MS = 3;
const BASELINE = 4;
const OFFSET = 5;
const GLOBAL_SCALE = 6;
const LAST_VALUE = 7;
const REPEAT_RUN = 8;
const REPEAT_RATE = 9;
const IN_EXCURSION = 10;
const CALM_RUN = 11;
const TAIL = 12;
const LAST_HOUR_OF_WEEK = 13;
const SHIFT = 14;
// Gains of the current visit of an hour slot, set when it starts (a pow per visit, not per point).
const DAILY_GAIN = 15;
const WEEKLY_GAIN = 16;
const BASELINE_GAIN = 17;
const SCALARS = 18;
const DAILY = SCALARS;
const WEEKLY = DAILY + 24;
const SCALE = WEEKLY + HOURS_PER_WEEK;
const DAILY_VISITS = SCALE + 24;
const WEEKLY_VISITS = DAILY_VISITS + 24;
/** Length of a state: the scalars, then per hour of the day and of the week its season, its scale and its visits. */
export const STREAM_STATE_LENGTH = WEEKLY_VISITS + HOURS_PER_WEEK;
/** Multiplicative step of the tail tracker: an exceedance raises it by 5%. */
const TAIL_STEP = 0.05;

/** The state of one entity before its first point. */
export function newStreamState(): Float64Array {
  const state = new Float64Array(STREAM_STATE_LENGTH).fill(Number.NaN);
  state[POINTS] = 0;
  state[REPEAT_RUN] = 0;
  state[REPEAT_RATE] = 0;
  state[IN_EXCURSION] = 0;
  state[CALM_RUN] = 0;
  state.fill(0, DAILY_VISITS);
  return state;
}

/** Per point of the scored series, indexed like it. */
export interface StreamResult {
  /** 1 where an alert is raised (the first point of an excursion, or of a stuck run). */
  isAnomaly: Uint8Array;
  /** For an anomalous point: 1 an excursion, 2 a stuck (repeated) value. */
  kind: Uint8Array;
  /** 0..1, 0.5 at the alert bar; NaN for a missing point. */
  score: Float64Array;
  /** The residual in robust sigmas (NaN where there is none). */
  zScore: Float64Array;
  /** What the point was expected to be, and the band within which it is not anomalous (NaN while warming up or for a missing point). */
  expected: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  /** The length of the run of repeated values a point ends (1 when it differs from the one before). */
  repeats: Float64Array;
}

export const STREAM_KIND = { excursion: 1, repeated: 2 } as const;

function toModel(value: number): number {
  return Math.sign(value) * Math.log1p(Math.abs(value));
}

function fromModel(y: number): number {
  return Math.sign(y) * Math.expm1(Math.abs(y));
}

/**
 * Gain per point of an hour slot visited `visits` times: the first visits teach it most (a
 * running mean), then each visit replaces SLOT_GAIN_PER_VISIT of it, spread over the about
 * HOUR_MS / spacing points of a visit.
 */
function slotGain(visits: number, spacingMs: number): number {
  const perVisit = Math.max(SLOT_GAIN_PER_VISIT, Math.min(0.8, 1 / visits));
  return 1 - (1 - perVisit) ** (1 / Math.max(1, HOUR_MS / spacingMs));
}

/** Gain per point of a smoother whose value halves every `halfLife` points. */
function gainOf(halfLife: number): number {
  return 1 - 2 ** (-1 / halfLife);
}

/**
 * Scores points in time order, continuing from `state` and updating it in place: scoring a series
 * in pieces with the same state gives what one pass over it gives. Missing points (NaN) are
 * skipped; points not after the state's last one are not allowed.
 *
 * @param timestampsMs epoch milliseconds, ascending; the hour of day and week is read from them (UTC).
 * @example
 * const state = newStreamState();
 * const monday = scoreStream(state, mondayMs, mondayBytes);   // state now holds Monday
 * const tuesday = scoreStream(state, tuesdayMs, tuesdayBytes); // continues where Monday stopped
 */
export function scoreStream(state: Float64Array, timestampsMs: Float64Array, values: Float64Array, options: StreamOptions = {}): StreamResult {
  const { threshold, clip, calmPoints, warmupPoints, repeatChance, tailShare, tailMargin, shiftSigmas, shiftPoints } = { ...STREAM_DEFAULTS, ...options };
  const shiftGain = gainOf(shiftPoints);
  const count = values.length;
  const nan = () => new Float64Array(count).fill(Number.NaN);
  const result: StreamResult = { expected: nan(), lower: nan(), upper: nan(), zScore: nan(), score: nan(), isAnomaly: new Uint8Array(count), kind: new Uint8Array(count), repeats: nan() };
  const offsetGain = gainOf(OFFSET_HALF_LIFE_POINTS);
  const repeatGain = gainOf(REPEAT_HALF_LIFE_POINTS);
  const logRepeatChance = Math.log(repeatChance);

  // The hour a point falls in, worked out again only when a point leaves the hour of the one before.
  let hourStartMs = Number.NaN;
  let hourOfWeek = 0;
  let hourOfDay = 0;
  for (let t = 0; t < count; t++) {
    const value = values[t];
    if (value !== value) continue;
    const timeMs = timestampsMs[t];
    const y = toModel(value);
    if (!(timeMs >= hourStartMs && timeMs < hourStartMs + HOUR_MS)) {
      hourStartMs = Math.floor(timeMs / HOUR_MS) * HOUR_MS;
      // 1970-01-01 was a Thursday: hours of the week count from Monday 00:00.
      hourOfWeek = (((Math.floor(timeMs / HOUR_MS) + 72) % HOURS_PER_WEEK) + HOURS_PER_WEEK) % HOURS_PER_WEEK;
      hourOfDay = hourOfWeek % 24;
    }

    if (state[POINTS] === 0) {
      state[FIRST_TIME] = timeMs;
      state[BASELINE] = y;
      state[OFFSET] = 0;
    } else {
      const spacing = timeMs - state[LAST_TIME];
      state[SPACING_MS] = Number.isNaN(state[SPACING_MS]) ? spacing : state[SPACING_MS] + 0.01 * (spacing - state[SPACING_MS]);
    }
    const spacingMs = Math.max(1, Number.isNaN(state[SPACING_MS]) ? HOUR_MS : state[SPACING_MS]);
    const daily = DAILY + hourOfDay;
    const weekly = WEEKLY + hourOfWeek;
    if (hourOfWeek !== state[LAST_HOUR_OF_WEEK]) {
      state[DAILY_VISITS + hourOfDay]++;
      state[WEEKLY_VISITS + hourOfWeek]++;
      state[LAST_HOUR_OF_WEEK] = hourOfWeek;
      state[DAILY_GAIN] = slotGain(state[DAILY_VISITS + hourOfDay], spacingMs);
      state[WEEKLY_GAIN] = slotGain(state[WEEKLY_VISITS + hourOfWeek], spacingMs);
      state[BASELINE_GAIN] = gainOf(Math.max(1, (BASELINE_HALF_LIFE_DAYS * DAY_MS) / spacingMs));
    }
    const dailyGain = state[DAILY_GAIN];
    const weeklyGain = state[WEEKLY_GAIN];
    const baselineGain = state[BASELINE_GAIN];

    // A slot seen for the first time starts from what is seen now: the series teaches its own shape.
    if (Number.isNaN(state[daily])) state[daily] = y - state[BASELINE] - state[OFFSET];
    if (Number.isNaN(state[weekly])) state[weekly] = state[daily];
    const expectedY = state[BASELINE] + state[weekly] + state[OFFSET];
    const residual = y - expectedY;
    const scaleSlot = SCALE + hourOfDay;
    if (Number.isNaN(state[GLOBAL_SCALE])) state[GLOBAL_SCALE] = Math.max(MIN_SCALE, Math.abs(residual));
    if (Number.isNaN(state[scaleSlot])) state[scaleSlot] = state[GLOBAL_SCALE];
    // Mean absolute residual × 1.25 is a Gaussian's sigma.
    const sigma = Math.max(MIN_SCALE, 1.25 * Math.max(state[scaleSlot], 0.5 * state[GLOBAL_SCALE]));
    const z = residual / sigma;
    // Short context: a shift shows as residuals on one side point after point, each too small to alert alone.
    state[SHIFT] = (Number.isNaN(state[SHIFT]) ? 0 : state[SHIFT]) + shiftGain * (Math.max(-clip, Math.min(clip, z)) - (Number.isNaN(state[SHIFT]) ? 0 : state[SHIFT]));

    // Repeats: the run of equal values this point ends, against the series' own rate of repeats.
    const repeated = value === state[LAST_VALUE];
    state[REPEAT_RUN] = repeated ? state[REPEAT_RUN] + 1 : 1;
    const logRepeatRate = Math.log(Math.max(state[REPEAT_RATE], MIN_REPEAT_RATE));
    // The chance of this run, and of the run one shorter: the alert goes to the point that makes it unlikely.
    const unlikelyRun = (state[REPEAT_RUN] - 1) * logRepeatRate < logRepeatChance;
    const becameUnlikely = unlikelyRun && (state[REPEAT_RUN] - 2) * logRepeatRate >= logRepeatChance;
    // A running mean at first, so that a series that often repeats itself is known as such early.
    state[REPEAT_RATE] += Math.max(repeatGain, 1 / (state[POINTS] + 1)) * ((repeated ? 1 : 0) - state[REPEAT_RATE]);
    state[LAST_VALUE] = value;

    const points = state[POINTS] + 1;
    const warm = points > warmupPoints && timeMs - state[FIRST_TIME] >= DAY_MS;
    result.repeats[t] = state[REPEAT_RUN];
    if (warm) {
      if (Number.isNaN(state[TAIL])) state[TAIL] = threshold / Math.max(1, tailMargin);
      // The series' own rare residuals raise the bar: an alert must stand out from them too.
      const alertZ = tailMargin > 0 ? Math.max(threshold, tailMargin * state[TAIL]) : threshold;
      const absZ = Math.abs(z);
      result.zScore[t] = z;
      result.expected[t] = fromModel(expectedY);
      result.lower[t] = fromModel(expectedY - alertZ * sigma);
      result.upper[t] = fromModel(expectedY + alertZ * sigma);
      result.score[t] = unlikelyRun ? Math.max(0.5, absZ / (absZ + alertZ)) : absZ / (absZ + alertZ);
      if (becameUnlikely) {
        result.isAnomaly[t] = 1;
        result.kind[t] = STREAM_KIND.repeated;
      }
      if (state[IN_EXCURSION] === 0) {
        // Tracks the (1 - tailShare) quantile of |z| outside excursions, which would otherwise raise it point after point;
        // a residual far above it raises it faster, so a heavy-tailed series teaches its tail within a few dozen points.
        state[TAIL] *= absZ > state[TAIL] ? Math.max(1 + TAIL_STEP * (1 - tailShare), (absZ / state[TAIL]) ** TAIL_STEP) : 1 - TAIL_STEP * tailShare;
      }
      if ((absZ > alertZ || Math.abs(state[SHIFT]) > shiftSigmas) && !unlikelyRun) {
        if (state[IN_EXCURSION] === 0) {
          result.isAnomaly[t] = 1;
          result.kind[t] = STREAM_KIND.excursion;
        }
        state[IN_EXCURSION] = 1;
        state[CALM_RUN] = 0;
      } else if (state[IN_EXCURSION] === 1) {
        state[CALM_RUN] = absZ < alertZ / 2 ? state[CALM_RUN] + 1 : 0;
        if (state[CALM_RUN] >= calmPoints) state[IN_EXCURSION] = 0;
      }
    } else {
      result.score[t] = 0;
    }

    // Learn from the point, its residual clipped: an outlier moves the model by at most `clip` sigmas' worth.
    const clipped = Math.max(-clip * sigma, Math.min(clip * sigma, residual));
    const deviation = state[OFFSET] + clipped;
    const dailyResidual = y - state[BASELINE] - state[OFFSET] - state[daily];
    state[daily] += dailyGain * Math.max(-clip * sigma, Math.min(clip * sigma, dailyResidual));
    state[weekly] += weeklyGain * deviation;
    state[BASELINE] += baselineGain * deviation;
    // The offset follows the last points; what season and baseline learn of it, it gives back.
    state[OFFSET] += offsetGain * clipped - (weeklyGain + baselineGain) * deviation;
    const absResidual = Math.min(Math.abs(residual), clip * sigma);
    state[scaleSlot] += dailyGain * (absResidual - state[scaleSlot]);
    state[GLOBAL_SCALE] += baselineGain * (absResidual - state[GLOBAL_SCALE]);
    state[POINTS] = points;
    state[LAST_TIME] = timeMs;
  }
  return result;
}
