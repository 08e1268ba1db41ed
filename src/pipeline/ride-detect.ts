/**
 * The ride detectors on a day of records: `conditional` (ride time given distance and hour) and
 * `pattern` (per-vehicle behaviour across the day). Tables come in as the detect step reads them
 * (columns in the order of {@link rideColumnsOf}); findings and facts go out, with explanations.
 */
import type { DetectStepConfig } from '../config/index.js';
import { detectVehiclePatterns, fitRideTimeModel, RIDE_VERDICT, scoreRideTimes, type RideColumns, type VehiclePattern } from '../detectors/index.js';
import { assertFiniteColumns, injectedRecall, type ConditionalFacts, type PatternFacts, type RecordColumns, type RecordFinding, type RecordTable, type VehiclePatternFacts } from './record-detect.js';
import { round } from './rounding.js';

type ConditionalStep = Extract<DetectStepConfig, { detector: 'conditional' }>;
type PatternStep = Extract<DetectStepConfig, { detector: 'pattern' }>;
type RideStep = ConditionalStep | PatternStep;

const KM_PER_MILE = 1.609344;
const MINUTES_PER_UNIT = { min: 1, s: 1 / 60, h: 60 } as const;

/** A number the ride detectors read, as SQL over the day's table (a DOUBLE), named for errors. */
export interface RideColumn {
  /** The column the value comes from, as errors name it. */
  column: string;
  /** Which value: the kernels' inputs. */
  role: 'distance' | 'duration' | 'hour_of_day' | 'day_of_week' | 'start_min' | 'end_min';
}

/**
 * The numbers a ride step reads, in table column order: distance and duration as the columns
 * hold them, then (conditional) hour of day and day of week of the pickup, or (pattern) pickup and
 * dropoff in minutes since 1970.
 */
export function rideColumnsOf(step: RideStep): RideColumn[] {
  const common: RideColumn[] = [
    { column: step.distance.column, role: 'distance' },
    { column: step.duration.column, role: 'duration' },
  ];
  if (step.detector === 'conditional') return [...common, { column: step.start, role: 'hour_of_day' }, { column: step.start, role: 'day_of_week' }];
  return [...common, { column: step.start, role: 'start_min' }, { column: step.end ?? step.start, role: 'end_min' }];
}

/** Minutes per unit of the step's duration column (explanations speak minutes, records keep their unit). */
export function minutesPerUnit(step: RideStep): number {
  return MINUTES_PER_UNIT[step.duration.unit];
}

/**
 * Dense codes for the vehicles of several tables (null: -1), numbered in first-seen order over the
 * tables in turn: each table's own codes, renumbered by name (new names of a later table come in
 * its own first-seen order, which is the joint one).
 */
function vehicleCodes(tables: readonly RecordColumns[]): { codes: Int32Array[]; count: number } {
  if (tables.length === 1) return { codes: [tables[0].entityCodes], count: tables[0].entityNames.length };
  const numbers = new Map<string, number>();
  const codes = tables.map(({ entityCodes, entityNames }) => {
    const joint = Int32Array.from(entityNames, (name) => {
      let code = numbers.get(name);
      if (code === undefined) numbers.set(name, (code = numbers.size));
      return code;
    });
    return entityCodes.map((code) => (code < 0 ? -1 : joint[code]));
  });
  return { codes, count: numbers.size };
}

/** A ride's finding: the record's distance and duration as its columns hold them, and the verdict. */
function rideFinding(step: RideStep, day: RecordTable, row: number, id: string, date: string, verdict: Pick<RecordFinding, 'score' | 'reason' | 'expected'>): RecordFinding {
  return {
    detector: step.detector,
    date,
    id,
    entity: day.entities[row],
    values: { [step.distance.column]: day.features[0][row], [step.duration.column]: day.features[1][row] },
    ...verdict,
    ...(day.labelledKinds === undefined ? {} : { labelledKind: day.labelledKinds[row] }),
  };
}

const hourWindow = (hour: number) => `${String(hour).padStart(2, '0')}:00–${String((hour + 1) % 24).padStart(2, '0')}:00`;

/** A distance, time or count as explanations show it: 12, 3.4, 0.07, 0.0005. */
function formatMeasure(value: number): string {
  const size = Math.abs(value);
  return size >= 10 || size === 0 ? value.toFixed(0) : size >= 1 ? value.toFixed(1) : Number(value.toPrecision(2)).toString();
}

/** The values times `factor`, as a new array (a loop: `Float64Array.from` with a callback is slow on a million values). */
function scaled(values: Float64Array, factor: number): Float64Array {
  const result = new Float64Array(values.length);
  for (let row = 0; row < values.length; row++) result[row] = values[row] * factor;
  return result;
}

/** The rows whose value `isFlagged`, in row order. */
function flaggedRowsOf(values: ArrayLike<number>, isFlagged: (value: number) => boolean): number[] {
  const rows: number[] = [];
  for (let row = 0; row < values.length; row++) if (isFlagged(values[row])) rows.push(row);
  return rows;
}

/** The rows of a history window plus the day, as one set of ride columns (the day's rows last; a lone day's own column, which kernels only read). */
function concatenated(tables: readonly RecordColumns[], role: number): Float64Array {
  if (tables.length === 1) return tables[0].features[role];
  const joined = new Float64Array(tables.reduce((sum, table) => sum + table.features[role].length, 0));
  let offset = 0;
  for (const table of tables) {
    joined.set(table.features[role], offset);
    offset += table.features[role].length;
  }
  return joined;
}

function concatenatedCodes(codes: readonly Int32Array[]): Int32Array {
  const joined = new Int32Array(codes.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of codes) {
    joined.set(part, offset);
    offset += part.length;
  }
  return joined;
}

/**
 * Conditional ride times over one day: the model is fitted on `history` (earlier days of the same
 * table, in date order) and the day together, then the day's rides are scored. Flagged rides are
 * findings explained against the band of rides of their distance and hour.
 *
 * @throws InputError naming the column and record id of a value that is not a finite number.
 */
export async function detectRideTimes(step: ConditionalStep, day: RecordTable, history: { tables: RecordColumns[]; from: string }, date: string): Promise<{ findings: RecordFinding[]; facts: ConditionalFacts }> {
  const columns = rideColumnsOf(step);
  await assertFiniteColumns(step, day, columns.map(({ column }) => column), date);
  const toMinutes = minutesPerUnit(step);
  const window = [...history.tables, day];
  const { codes, count: vehicleCount } = vehicleCodes(window);
  const dayMinutes = scaled(day.features[1], toMinutes);
  const fitDayOfWeek = concatenated(window, 3);
  const dayOfWeek = new Uint8Array(fitDayOfWeek.length);
  for (let row = 0; row < dayOfWeek.length; row++) dayOfWeek[row] = Number.isFinite(fitDayOfWeek[row]) ? fitDayOfWeek[row] : 255;
  const fitRides: RideColumns = {
    distance: concatenated(window, 0),
    durationMin: window.length === 1 ? dayMinutes : scaled(concatenated(window, 1), toMinutes),
    hourOfDay: concatenated(window, 2),
    dayOfWeek,
    vehicle: step.entity === undefined ? undefined : concatenatedCodes(codes),
    vehicleCount: step.entity === undefined ? undefined : vehicleCount,
    day: concatenatedCodes(window.map((table, day) => new Int32Array(table.entities.length).fill(day))),
    dayCount: window.length,
  };
  // Two of each weekday before day-of-week terms mean anything.
  const byDayOfWeek = history.tables.length + 1 >= 14;
  const model = fitRideTimeModel(fitRides, { minSupport: step.minSupport, byDayOfWeek });
  const unitsPerKm = step.distance.unit === 'mi' ? 1 / KM_PER_MILE : 1;
  const maxSpeed = step.maxSpeedKmh * unitsPerKm;
  const dayRides: RideColumns = { distance: day.features[0], durationMin: dayMinutes, hourOfDay: day.features[2], dayOfWeek: Uint8Array.from(day.features[3]) };
  const scores = scoreRideTimes(model, dayRides, { sigmas: step.sigmas, distanceSigmas: step.distanceSigmas, maxSpeed });
  const fleet = model.distance;
  const flaggedAbove = fleet.support >= step.minSupport ? Math.exp(fleet.median + step.distanceSigmas * fleet.upperSpread) : null;

  const unit = step.distance.unit;
  const byReason = { too_long: 0, too_short: 0, too_fast: 0, far_distance: 0 };
  const flagged = flaggedRowsOf(scores.verdict, (verdict) => verdict !== 0);
  const ids = await day.idsOf(flagged);
  const findings: RecordFinding[] = [];
  for (const [k, row] of flagged.entries()) {
    const verdict = scores.verdict[row];
    const distance = dayRides.distance[row];
    const rideMinutes = dayRides.durationMin[row];
    const hour = Math.floor(dayRides.hourOfDay[row]);
    const reasons: string[] = [];
    const timeFlag = verdict & (RIDE_VERDICT.tooLong | RIDE_VERDICT.tooShort);
    if (timeFlag) {
      byReason[timeFlag & RIDE_VERDICT.tooLong ? 'too_long' : 'too_short']++;
      const compared = scores.comparedDistance[row];
      const similar = Number.isNaN(compared)
        ? `${step.records} of similar distance at ${hourWindow(hour)}`
        : `${step.records} of ${formatMeasure(compared)} ${unit} at ${hourWindow(hour)}, the nearest with enough ${step.records} to compare`;
      const sigmas = Math.abs(scores.timeSigmas[row]);
      reasons.push(
        `${step.duration.label} ${formatMeasure(rideMinutes)} min for ${formatMeasure(distance)} ${unit} is ${sigmas.toFixed(1)}σ ${timeFlag & RIDE_VERDICT.tooLong ? 'above' : 'below'} ${similar} (expected ${formatMeasure(scores.low[row])}–${formatMeasure(scores.high[row])} min)`,
      );
    }
    if (verdict & RIDE_VERDICT.tooFast) {
      byReason.too_fast++;
      const speed = distance / (rideMinutes / 60);
      reasons.push(`${formatMeasure(distance)} ${unit} in ${formatMeasure(rideMinutes)} min is ${Number.isFinite(speed) ? formatMeasure(speed) : 'infinitely many'} ${unit}/h, faster than any car (limit ${formatMeasure(maxSpeed)} ${unit}/h)`);
    }
    if (verdict & RIDE_VERDICT.farDistance) {
      byReason.far_distance++;
      reasons.push(`${step.distance.label} ${formatMeasure(distance)} ${unit} is ${scores.distanceSigmas[row].toFixed(1)}σ beyond the distances ${step.records} go (usual up to ${formatMeasure(flaggedAbove ?? Number.NaN)} ${unit})`);
    }
    // Expected: the ride time when it was judged, else (only too far) the distance.
    const expected =
      timeFlag || !(verdict & RIDE_VERDICT.farDistance)
        ? { feature: step.duration.column, value: round(scores.expected[row] / toMinutes, 3), low: round(scores.low[row] / toMinutes, 3), high: round(scores.high[row] / toMinutes, 3) }
        : { feature: step.distance.column, value: round(Math.exp(fleet.median), 3), low: round(Math.exp(fleet.median - step.distanceSigmas * fleet.lowerSpread), 3), high: round(flaggedAbove ?? Number.NaN, 3) };
    findings.push(rideFinding(step, day, row, ids[k], date, { score: round(scores.score[row], 4), reason: reasons.join('; '), expected }));
  }
  const facts: ConditionalFacts = {
    flagged: findings.length,
    by_reason: byReason,
    fit: {
      from: history.tables.length > 0 ? history.from : date,
      to: date,
      days: window.length,
      rides: model.rides,
      by_day_of_week: byDayOfWeek,
      distance: { median: round(Math.exp(fleet.median), 3), flagged_above: flaggedAbove === null ? null : round(flaggedAbove, 3) },
    },
    parameters: { sigmas: step.sigmas, distance_sigmas: step.distanceSigmas, min_support: step.minSupport, max_speed_kmh: step.maxSpeedKmh, history: step.history },
  };
  if (day.labelledKinds) facts.injected_anomalies = injectedRecall(day.labelledKinds, flagged);
  return { findings, facts };
}

/** "T0003 repeated ride distance 0.065–0.075 km on 55 of its 88 rides, where the rest of the fleet's rate predicts 0.0005" */
function describePattern(step: PatternStep, pattern: VehiclePattern, vehicle: string): string {
  const { records } = step;
  const expected = formatMeasure(pattern.expected);
  switch (pattern.kind) {
    case 'repeated': {
      const [label, unit] = pattern.column === 0 ? [step.distance.label, step.distance.unit] : [step.duration.label, 'min'];
      const [low, high] = [formatMeasure(pattern.low), formatMeasure(pattern.high)];
      return `${vehicle} repeated ${label} ${low === high ? low : `${low}–${high}`} ${unit} on ${pattern.count} of its ${pattern.total} ${records}, where the rest of the fleet's rate predicts ${expected}`;
    }
    case 'back_to_back':
      // Gaps are between consecutive trips: `total` gaps for total + 1 trips.
      return `${vehicle} began ${pattern.count} of its ${pattern.total + 1} ${records} within ${formatMeasure(step.backToBackMinutes)} min of the previous dropoff, where the fleet's rate predicts ${expected} (meter running between trips?)`;
    case 'overlap':
      return `${vehicle} began ${pattern.count} of its ${pattern.total + 1} ${records} before the previous one ended, where the fleet's rate predicts ${expected}`;
  }
}

/**
 * Vehicle patterns over one day: each flagged trip is a finding explained by its vehicle's
 * strongest pattern; the facts list every flagged vehicle with its score and explanation.
 *
 * @throws InputError naming the column and record id of a value that is not a finite number.
 */
export async function detectPatterns(step: PatternStep, day: RecordTable, date: string): Promise<{ findings: RecordFinding[]; facts: PatternFacts }> {
  await assertFiniteColumns(step, day, rideColumnsOf(step).map(({ column }) => column), date);
  const toMinutes = minutesPerUnit(step);
  const {
    codes: [vehicle],
    count: vehicleCount,
  } = vehicleCodes([day]);
  const durationMin = scaled(day.features[1], toMinutes);
  const vehicleNames: string[] = [];
  day.entities.forEach((entity, row) => {
    if (entity !== null) vehicleNames[vehicle[row]] = entity;
  });
  const result = detectVehiclePatterns(
    { vehicle, vehicleCount, values: [day.features[0], durationMin], startMin: day.features[2], endMin: day.features[3] },
    {
      relativeTolerance: step.repeatTolerance.relative,
      absoluteTolerances: [step.repeatTolerance.distance, step.repeatTolerance.duration],
      falseAlarms: step.falseAlarms,
      minRepeats: step.minRepeats,
      backToBackMinutes: step.backToBackMinutes,
      maxFleetOverlapShare: step.maxFleetOverlapShare,
    },
  );
  const reasons = result.patterns.map((pattern) => describePattern(step, pattern, vehicleNames[pattern.vehicle]));
  const flagged = flaggedRowsOf(result.tripPattern, (index) => index >= 0);
  const ids = await day.idsOf(flagged);
  const findings: RecordFinding[] = [];
  for (const [k, row] of flagged.entries()) {
    const index = result.tripPattern[row];
    const pattern = result.patterns[index];
    const repeatedColumn = pattern.kind === 'repeated' && pattern.column === 0 ? step.distance.column : step.duration.column;
    // A repeat has the band of the repeated values; a gap pattern has none on the record's own values.
    const scale = pattern.kind === 'repeated' && pattern.column === 1 ? 1 / toMinutes : 1;
    const band = pattern.kind === 'repeated' ? { value: round(((pattern.low + pattern.high) / 2) * scale, 3), low: round(pattern.low * scale, 3), high: round(pattern.high * scale, 3) } : { value: Number.NaN, low: Number.NaN, high: Number.NaN };
    findings.push(rideFinding(step, day, row, ids[k], date, { score: round(pattern.score, 4), reason: reasons[index], expected: { feature: repeatedColumn, ...band } }));
  }
  const vehicles: VehiclePatternFacts[] = result.patterns
    .map((pattern, index) => ({
      vehicle: vehicleNames[pattern.vehicle],
      pattern: pattern.kind,
      count: pattern.count,
      total: pattern.total,
      expected: round(pattern.expected, 6),
      score: round(pattern.score, 4),
      reason: reasons[index],
    }))
    .sort((a, b) => b.score - a.score || (a.vehicle < b.vehicle ? -1 : a.vehicle > b.vehicle ? 1 : 0));
  const facts: PatternFacts = {
    flagged: findings.length,
    vehicles,
    fleet: {
      trips: result.fleet.trips,
      gaps: result.fleet.gaps,
      back_to_back_share: round(result.fleet.backToBackShare, 4),
      overlap_share: round(result.fleet.overlapShare, 4),
      overlaps_tested: result.fleet.overlapsTested,
    },
    parameters: { relative_tolerance: step.repeatTolerance.relative, min_repeats: step.minRepeats, false_alarms: step.falseAlarms, back_to_back_minutes: step.backToBackMinutes },
  };
  if (day.labelledKinds) facts.injected_anomalies = injectedRecall(day.labelledKinds, flagged);
  return { findings, facts };
}
