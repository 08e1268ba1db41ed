/**
 * Seeded per-minute network traffic of a fleet of sensors (bytes, packets and flows a flow collector
 * counts per minute), with labelled injected incidents: what rb-aioutliers' users feed their
 * per-sensor models. Sensors are offices, homes or data centres, each with its own daily and
 * weekly shape, slow drifts, noise that grows as traffic thins out, unlabelled micro-bursts and
 * occasional missing minutes; nothing here is tuned to a detector.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { addDays, assertIsoDate, dateRange } from '../dates.js';
import { openEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { partitionPrefix, writeFileAtomically, type Lake } from '../lake/index.js';
import { SeededRandom } from '../random.js';

/** Kinds of injected incident, in the order of `injectedKind` codes 1..4 (0 = normal minute). */
export const TRAFFIC_INCIDENT_KINDS = ['spike', 'drop', 'level_shift', 'flat_line'] as const;
export type TrafficIncidentKind = (typeof TRAFFIC_INCIDENT_KINDS)[number];

/** Column names of the written Parquet files, in file order. */
export const SAMPLE_TRAFFIC_COLUMNS = ['sensor_id', 'ts', 'bytes', 'packets', 'flows', 'is_injected_anomaly', 'injected_kind'] as const;

/** One injected incident: minutes `startMinute .. endMinute - 1` of its sensor's series. */
export interface TrafficIncident {
  kind: TrafficIncidentKind;
  startMinute: number;
  endMinute: number;
}

/** One sensor's series over the whole period, one slot per minute. */
export interface SensorTraffic {
  sensorId: string;
  /** Start of every minute of the period (epoch milliseconds, UTC). */
  timestampsMs: Float64Array;
  /** Counts per minute; NaN where the collector reported nothing (a missing minute). */
  bytes: Float64Array;
  packets: Float64Array;
  flows: Float64Array;
  /** 0 for a normal minute, else 1 + index into TRAFFIC_INCIDENT_KINDS. */
  injectedKind: Uint8Array;
  incidents: TrafficIncident[];
}

/** What to generate: `sensors` sensors of `days` days from `from` (a UTC date), reproducible by `seed`. */
export interface TrafficSampleOptions {
  sensors: number;
  days: number;
  from: string;
  seed: number;
}

/** What `detour sample traffic` writes unless told otherwise: the sample the tests and benches use. */
export const TRAFFIC_SAMPLE_DEFAULTS: TrafficSampleOptions = { sensors: 20, days: 35, from: '2024-03-04', seed: 7 };

const MINUTES_PER_DAY = 1440;
const MINUTE_MS = 60_000;
/** Mean incidents per sensor and day, about one every 40 hours. */
const INCIDENTS_PER_DAY = 0.6;
/** Quiet minutes kept between two incidents, so that each one starts from normal traffic. */
const INCIDENT_GAP_MINUTES = 120;
/** Chance that a minute starts a gap of missing minutes (collector restarts, lost export packets). */
const MISSING_START_RATE = 0.0015;
/** Chance of an unlabelled one-minute burst (a large download, a backup chunk): normal traffic too. */
const MICRO_BURST_RATE = 0.003;

type SensorSite = 'office' | 'home' | 'datacenter';
const SITES: readonly SensorSite[] = ['office', 'home', 'datacenter'];

/** What makes one sensor's traffic its own. */
interface SensorProfile {
  site: SensorSite;
  peakBytesPerMinute: number;
  /** Relative per-minute noise (log scale) at peak traffic; quieter minutes are noisier. */
  noise: number;
  meanPacketBytes: number;
  packetsPerFlow: number;
  /** Start of the nightly backup of a data centre, in minutes after midnight. */
  backupMinute: number;
  /** Trend of the log level per day (growth or decline of the site). */
  dailyGrowth: number;
}

/** exp(-d²/2w²) of the circular distance d (in minutes) between two times of day. */
function dailyBump(minuteOfDay: number, centreMinute: number, widthMinutes: number): number {
  let distance = Math.abs(minuteOfDay - centreMinute) % MINUTES_PER_DAY;
  if (distance > MINUTES_PER_DAY / 2) distance = MINUTES_PER_DAY - distance;
  return Math.exp(-(distance * distance) / (2 * widthMinutes * widthMinutes));
}

/** Smooth step from 0 to 1 over `rampMinutes` around `edgeMinute`. */
function smoothStep(minuteOfDay: number, edgeMinute: number, rampMinutes: number): number {
  return 1 / (1 + Math.exp(-(minuteOfDay - edgeMinute) / rampMinutes));
}

/**
 * Share of the sensor's peak traffic expected at a minute of a weekday (0 = Monday), before drifts
 * and noise: offices work 8 to 18 on weekdays, homes peak in the evening and more by day at
 * weekends, data centres run flat with a nightly backup.
 */
function seasonalLevel(profile: SensorProfile, minuteOfDay: number, weekday: number): number {
  const weekend = weekday >= 5;
  switch (profile.site) {
    case 'office': {
      const workday = smoothStep(minuteOfDay, 8 * 60, 25) * (1 - smoothStep(minuteOfDay, 18 * 60, 35));
      const lunchDip = 1 - 0.15 * dailyBump(minuteOfDay, 12.5 * 60, 30);
      return 0.08 + 0.92 * workday * lunchDip * (weekend ? 0.12 : 1);
    }
    case 'home': {
      const evening = dailyBump(minuteOfDay, 21 * 60, 110);
      const daytime = dailyBump(minuteOfDay, 14 * 60, 200);
      return 0.1 + 0.75 * evening + (weekend ? 0.45 : 0.22) * daytime;
    }
    case 'datacenter': {
      const backup = smoothStep(minuteOfDay, profile.backupMinute, 4) * (1 - smoothStep(minuteOfDay, profile.backupMinute + 75, 4));
      return 0.55 + 0.2 * dailyBump(minuteOfDay, 15 * 60, 240) * (weekend ? 0.6 : 1) + 0.35 * backup;
    }
  }
}

function drawProfile(sensorIndex: number, random: SeededRandom): SensorProfile {
  return {
    site: SITES[sensorIndex % SITES.length],
    // 25 MB to 2.5 GB a minute at peak: a branch office link up to a data-centre uplink (~3 Mbit/s to 330 Mbit/s).
    peakBytesPerMinute: Math.exp(random.uniform(Math.log(2.5e7), Math.log(2.5e9))),
    noise: random.uniform(0.02, 0.05),
    meanPacketBytes: random.uniform(550, 950),
    packetsPerFlow: random.uniform(15, 40),
    backupMinute: Math.round(random.uniform(60, 180)),
    dailyGrowth: random.uniform(-0.002, 0.006),
  };
}

/** Seed of one sensor, so that a sensor's series does not depend on how many sensors are generated. */
function sensorSeed(seed: number, sensorIndex: number): number {
  return (seed ^ Math.imul(sensorIndex + 1, 0x9e3779b1)) >>> 0;
}

/** A duration drawn log-uniformly between `shortest` and `longest` minutes. */
function durationMinutes(random: SeededRandom, shortest: number, longest: number): number {
  return Math.round(Math.exp(random.uniform(Math.log(shortest), Math.log(longest))));
}

/** Durations an incident of each kind lasts, in minutes, as seen on production links. */
const DURATION_RANGE: Record<TrafficIncidentKind, [shortest: number, longest: number]> = {
  spike: [2, 20], // a DDoS burst or a runaway transfer
  drop: [5, 90], // an upstream outage or a failed link
  level_shift: [120, 720], // a routing change or failover that lasts hours
  flat_line: [20, 180], // an exporter stuck repeating its last counters
};

/** Incidents of one sensor: Poisson arrivals, kinds drawn uniformly, never overlapping. */
function drawIncidents(minuteCount: number, random: SeededRandom): TrafficIncident[] {
  const incidents: TrafficIncident[] = [];
  const meanGap = MINUTES_PER_DAY / INCIDENTS_PER_DAY;
  let next = INCIDENT_GAP_MINUTES + Math.round(-Math.log(1 - random.next()) * meanGap);
  while (next < minuteCount) {
    const kind = TRAFFIC_INCIDENT_KINDS[random.below(TRAFFIC_INCIDENT_KINDS.length)];
    const [shortest, longest] = DURATION_RANGE[kind];
    const endMinute = Math.min(minuteCount, next + durationMinutes(random, shortest, longest));
    incidents.push({ kind, startMinute: next, endMinute });
    next = endMinute + INCIDENT_GAP_MINUTES + Math.round(-Math.log(1 - random.next()) * meanGap);
  }
  return incidents;
}

/**
 * One sensor's traffic over the period (index 0..sensors-1 of a sample). Deterministic for the seed,
 * the sensor index and the period.
 *
 * @example
 * const sensor = generateSensorTraffic(3, { sensors: 20, days: 35, from: '2024-03-04', seed: 7 });
 * sensor.bytes.length; // 50_400 minutes; sensor.incidents lists what was injected where
 */
export function generateSensorTraffic(sensorIndex: number, options: TrafficSampleOptions): SensorTraffic {
  checkOptions(options);
  const random = new SeededRandom(sensorSeed(options.seed, sensorIndex));
  const profile = drawProfile(sensorIndex, random);
  const minuteCount = options.days * MINUTES_PER_DAY;
  const startMs = Date.parse(`${options.from}T00:00:00Z`);
  // getUTCDay counts from Sunday; the profile counts from Monday.
  const firstWeekday = (new Date(startMs).getUTCDay() + 6) % 7;

  // Day-to-day drift of the log level: a random walk around the site's trend, interpolated per minute.
  const dayLevels = new Float64Array(options.days + 1);
  for (let day = 1; day <= options.days; day++) dayLevels[day] = dayLevels[day - 1] + profile.dailyGrowth + 0.03 * random.normal();
  // Within-day wander of the log level (AR(1), correlated over about 1.5 hours, 4% spread).
  const wanderPersistence = Math.exp(-1 / 90);
  const wanderStep = 0.04 * Math.sqrt(1 - wanderPersistence ** 2);
  let wander = 0;

  const timestampsMs = new Float64Array(minuteCount);
  const bytes = new Float64Array(minuteCount);
  const packets = new Float64Array(minuteCount);
  const flows = new Float64Array(minuteCount);
  for (let minute = 0; minute < minuteCount; minute++) {
    const day = Math.floor(minute / MINUTES_PER_DAY);
    const minuteOfDay = minute - day * MINUTES_PER_DAY;
    const dayFraction = minuteOfDay / MINUTES_PER_DAY;
    const drift = dayLevels[day] * (1 - dayFraction) + dayLevels[day + 1] * dayFraction;
    wander = wanderPersistence * wander + wanderStep * random.normal();
    const seasonal = seasonalLevel(profile, minuteOfDay, (firstWeekday + day) % 7);
    // Fewer flows make a noisier sum: the relative noise grows as traffic thins out.
    const noise = profile.noise * Math.min(3, 1 / Math.sqrt(seasonal)) * random.normal();
    const burst = random.next() < MICRO_BURST_RATE ? random.uniform(1.15, 1.6) : 1;
    timestampsMs[minute] = startMs + minute * MINUTE_MS;
    bytes[minute] = profile.peakBytesPerMinute * seasonal * Math.exp(drift + wander + noise) * burst;
    // Bulk transfers (busy hours, bursts) use larger packets than the interactive background.
    const packetBytes = profile.meanPacketBytes * (0.9 + 0.2 * seasonal) * Math.exp(0.02 * random.normal()) * Math.sqrt(burst);
    packets[minute] = bytes[minute] / packetBytes;
    flows[minute] = packets[minute] / (profile.packetsPerFlow * Math.exp(0.05 * random.normal()));
  }

  const incidents = drawIncidents(minuteCount, random);
  const injectedKind = new Uint8Array(minuteCount);
  for (const incident of incidents) injectIncident(incident, { bytes, packets, flows }, random);
  for (const { kind, startMinute, endMinute } of incidents) injectedKind.fill(1 + TRAFFIC_INCIDENT_KINDS.indexOf(kind), startMinute, endMinute);

  for (const series of [bytes, packets, flows]) for (let minute = 0; minute < minuteCount; minute++) series[minute] = Math.round(series[minute]);
  dropMissingMinutes({ bytes, packets, flows }, random);
  const sensorId = `sensor-${String(sensorIndex + 1).padStart(2, '0')}`;
  return { sensorId, timestampsMs, bytes, packets, flows, injectedKind, incidents };
}

type TrafficCounts = Pick<SensorTraffic, 'bytes' | 'packets' | 'flows'>;

/** Changes the counts of the incident's minutes as that kind of incident does. */
function injectIncident({ kind, startMinute, endMinute }: TrafficIncident, counts: TrafficCounts, random: SeededRandom): void {
  const { bytes, packets, flows } = counts;
  const scale = (byteFactor: number, packetFactor: number, flowFactor: number) => {
    for (let minute = startMinute; minute < endMinute; minute++) {
      bytes[minute] *= byteFactor;
      packets[minute] *= packetFactor;
      flows[minute] *= flowFactor;
    }
  };
  switch (kind) {
    case 'spike': {
      // Volumetric attacks multiply packets and sources more than bytes; a runaway transfer mostly bytes.
      const byteFactor = random.uniform(2.5, 8);
      const isAttack = random.next() < 0.5;
      scale(byteFactor, byteFactor * (isAttack ? random.uniform(1.5, 3) : random.uniform(0.6, 1)), isAttack ? random.uniform(5, 30) : random.uniform(1, 1.3));
      break;
    }
    case 'drop': {
      const remaining = random.next() < 0.3 ? 0 : random.uniform(0.05, 0.35);
      scale(remaining, remaining, remaining);
      break;
    }
    case 'level_shift': {
      const factor = random.next() < 0.5 ? random.uniform(0.45, 0.7) : random.uniform(1.4, 2);
      scale(factor, factor, factor * random.uniform(0.9, 1.1));
      break;
    }
    case 'flat_line': {
      // The exporter keeps resending its last counters.
      const last = Math.max(0, startMinute - 1);
      bytes.fill(bytes[last], startMinute, endMinute);
      packets.fill(packets[last], startMinute, endMinute);
      flows.fill(flows[last], startMinute, endMinute);
      break;
    }
  }
}

/** Blanks (NaN) minutes the collector lost: mostly single minutes, sometimes a few in a row. */
function dropMissingMinutes(counts: TrafficCounts, random: SeededRandom): void {
  const minuteCount = counts.bytes.length;
  for (let minute = 0; minute < minuteCount; minute++) {
    if (random.next() >= MISSING_START_RATE) continue;
    const length = random.next() < 0.8 ? 1 : 2 + random.below(9);
    for (const series of [counts.bytes, counts.packets, counts.flows]) series.fill(Number.NaN, minute, Math.min(minuteCount, minute + length));
    minute += length;
  }
}

function checkOptions(options: TrafficSampleOptions): void {
  for (const [name, value] of [['sensors', options.sensors], ['days', options.days]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new InputError(`traffic sample: ${name} must be a whole number of at least 1, got ${value}`);
  }
  assertIsoDate(options.from, 'traffic sample: from');
}

/** Every sensor of the sample, sensor 0 first. */
export function generateTraffic(options: TrafficSampleOptions): SensorTraffic[] {
  checkOptions(options);
  return Array.from({ length: options.sensors }, (_, sensorIndex) => generateSensorTraffic(sensorIndex, options));
}

/**
 * Writes the sample to `bronze/<dataset>/date=D/traffic.parquet` (dataset `traffic` by default), one
 * file per day with the rows of every sensor sorted by sensor and minute (missing minutes have no
 * row), replacing an earlier sample of those dates. Same options, same rows. Returns the keys written.
 */
export async function writeSampleTraffic(
  lake: Lake,
  options: TrafficSampleOptions & { dataset?: string; onDay?: (logicalDate: string, key: string) => void },
): Promise<string[]> {
  const sensors = generateTraffic(options);
  const dates = dateRange(options.from, addDays(options.from, options.days - 1));
  const keys: string[] = [];
  const engine = await openEngine();
  try {
    for (const [day, logicalDate] of dates.entries()) {
      const rows = dayRows(sensors, day);
      await engine.createTable('sample_traffic_day', [
        { name: 'sensor_id', type: 'VARCHAR', values: rows.sensorIds },
        { name: 'ts_ms', type: 'DOUBLE', values: rows.timestampsMs },
        { name: 'bytes', type: 'DOUBLE', values: rows.bytes },
        { name: 'packets', type: 'DOUBLE', values: rows.packets },
        { name: 'flows', type: 'DOUBLE', values: rows.flows },
        { name: 'injected_kind', type: 'INTEGER', values: rows.injectedKind },
      ]);
      const key = `${partitionPrefix('bronze', options.dataset ?? 'traffic', logicalDate)}traffic.parquet`;
      await engine.exportQuery(
        `SELECT sensor_id, make_timestamp(CAST(ts_ms * 1000 AS BIGINT)) AS ts,
                CAST(bytes AS BIGINT) AS bytes, CAST(packets AS BIGINT) AS packets, CAST(flows AS BIGINT) AS flows,
                CAST(injected_kind > 0 AS INTEGER) AS is_injected_anomaly,
                coalesce(list_extract($1::VARCHAR[], injected_kind), '') AS injected_kind
         FROM sample_traffic_day ORDER BY sensor_id, ts_ms`,
        lake,
        key,
        'parquet',
        [TRAFFIC_INCIDENT_KINDS],
      );
      keys.push(key);
      options.onDay?.(logicalDate, key);
    }
  } finally {
    await engine.close();
  }
  return keys;
}

/** The observed (non-missing) minutes of one day of every sensor, as table columns. */
function dayRows(sensors: readonly SensorTraffic[], day: number) {
  const sensorIds: string[] = [];
  const timestampsMs: number[] = [];
  const bytes: number[] = [];
  const packets: number[] = [];
  const flows: number[] = [];
  const injectedKind: number[] = [];
  for (const sensor of sensors) {
    for (let minute = day * MINUTES_PER_DAY; minute < (day + 1) * MINUTES_PER_DAY; minute++) {
      if (Number.isNaN(sensor.bytes[minute])) continue;
      sensorIds.push(sensor.sensorId);
      timestampsMs.push(sensor.timestampsMs[minute]);
      bytes.push(sensor.bytes[minute]);
      packets.push(sensor.packets[minute]);
      flows.push(sensor.flows[minute]);
      injectedKind.push(sensor.injectedKind[minute]);
    }
  }
  return { sensorIds, timestampsMs, bytes, packets, flows, injectedKind };
}

/** Minutes `from..to` of a sensor as the lake holds them: the observed ones only, with their times. */
export function observedMinutes(sensor: SensorTraffic, from: number, to: number): { timestampsMs: Float64Array; bytes: Float64Array } {
  const observed: number[] = [];
  for (let minute = from; minute < to; minute++) if (!Number.isNaN(sensor.bytes[minute])) observed.push(minute);
  return { timestampsMs: Float64Array.from(observed, (minute) => sensor.timestampsMs[minute]), bytes: Float64Array.from(observed, (minute) => sensor.bytes[minute]) };
}

/** Found incidents and flagged minutes of one incident kind. */
export interface IncidentKindDetection {
  incidents: number;
  /** Incidents with at least one flagged minute. */
  found: number;
  /** Observed minutes of those incidents, and how many of them were flagged. */
  minutes: number;
  flaggedMinutes: number;
}

/** How per-minute flags compare with a sample's labels. */
export interface IncidentDetection {
  byKind: Record<TrafficIncidentKind, IncidentKindDetection>;
  /** Observed minutes outside every incident, and how many of them were flagged (false alarms). */
  normalMinutes: number;
  flaggedNormalMinutes: number;
  /** Runs of consecutive flagged minutes (what an operator is alerted to), and those touching an incident. */
  alerts: number;
  alertsOnIncidents: number;
}

/**
 * Compares a detector's per-minute flags for minutes `fromMinute .. fromMinute + isAnomaly.length - 1`
 * of a sensor with its injected incidents. An incident counts when it starts in that range (so that
 * ranges tiling a period count each incident once) and is found when any of its observed minutes in
 * the range is flagged. Missing minutes count nowhere.
 */
export function incidentDetection(sensor: SensorTraffic, isAnomaly: Uint8Array, fromMinute: number): IncidentDetection {
  const toMinute = fromMinute + isAnomaly.length;
  const observed = (minute: number) => !Number.isNaN(sensor.bytes[minute]);
  const { byKind } = sumIncidentDetections([]);
  for (const { kind, startMinute, endMinute } of sensor.incidents) {
    if (startMinute < fromMinute || startMinute >= toMinute) continue;
    let minutes = 0;
    let flaggedMinutes = 0;
    for (let minute = startMinute; minute < Math.min(endMinute, toMinute); minute++) {
      if (!observed(minute)) continue;
      minutes++;
      flaggedMinutes += isAnomaly[minute - fromMinute];
    }
    if (minutes === 0) continue;
    const counts = byKind[kind];
    counts.incidents++;
    counts.found += flaggedMinutes > 0 ? 1 : 0;
    counts.minutes += minutes;
    counts.flaggedMinutes += flaggedMinutes;
  }
  let normalMinutes = 0;
  let flaggedNormalMinutes = 0;
  let alerts = 0;
  let alertsOnIncidents = 0;
  let alertTouchesIncident = false;
  for (let minute = fromMinute; minute < toMinute; minute++) {
    const flagged = isAnomaly[minute - fromMinute] === 1;
    if (flagged) {
      if (minute === fromMinute || isAnomaly[minute - fromMinute - 1] !== 1) alerts++;
      alertTouchesIncident ||= sensor.injectedKind[minute] !== 0;
    }
    if (alertTouchesIncident && (!flagged || minute === toMinute - 1)) {
      alertsOnIncidents++;
      alertTouchesIncident = false;
    }
    if (sensor.injectedKind[minute] !== 0 || !observed(minute)) continue;
    normalMinutes++;
    flaggedNormalMinutes += flagged ? 1 : 0;
  }
  return { byKind, normalMinutes, flaggedNormalMinutes, alerts, alertsOnIncidents };
}

/** The sum of detections of several sensors or days, for a figure over a whole sample. */
export function sumIncidentDetections(detections: readonly IncidentDetection[]): IncidentDetection {
  const total: IncidentDetection = {
    byKind: Object.fromEntries(
      TRAFFIC_INCIDENT_KINDS.map((kind) => [kind, { incidents: 0, found: 0, minutes: 0, flaggedMinutes: 0 }]),
    ) as Record<TrafficIncidentKind, IncidentKindDetection>,
    normalMinutes: 0,
    flaggedNormalMinutes: 0,
    alerts: 0,
    alertsOnIncidents: 0,
  };
  for (const detection of detections) {
    for (const kind of TRAFFIC_INCIDENT_KINDS) {
      const into = total.byKind[kind];
      const from = detection.byKind[kind];
      into.incidents += from.incidents;
      into.found += from.found;
      into.minutes += from.minutes;
      into.flaggedMinutes += from.flaggedMinutes;
    }
    total.normalMinutes += detection.normalMinutes;
    total.flaggedNormalMinutes += detection.flaggedNormalMinutes;
    total.alerts += detection.alerts;
    total.alertsOnIncidents += detection.alertsOnIncidents;
  }
  return total;
}

/** A sensor's observed minutes with its incidents as NAB labels: anomaly windows of minutes (first and last inclusive). */
export interface NabLabelledSensor {
  timestampsMs: Float64Array;
  bytes: Float64Array;
  /** Windows as indices into the observed minutes, sorted and disjoint. */
  windows: { first: number; last: number }[];
}

/**
 * The sensor's bytes per observed minute with NAB-style windows around its incidents: as NAB
 * labels its corpus, 10% of the series shared equally among the incidents, each window centred on
 * an incident's first minute (so an early warning is rewarded), and stretched to the incident's
 * last minute when it lasts longer; overlapping windows are merged.
 */
export function nabLabelledSensor(sensor: SensorTraffic): NabLabelledSensor {
  const observed: number[] = [];
  for (let minute = 0; minute < sensor.bytes.length; minute++) if (!Number.isNaN(sensor.bytes[minute])) observed.push(minute);
  // Index of the first observed minute at or after each minute.
  const rowAt = new Int32Array(sensor.bytes.length + 1).fill(observed.length);
  for (let row = observed.length - 1, minute = sensor.bytes.length - 1; minute >= 0; minute--) {
    if (row >= 0 && observed[row] === minute) row--;
    rowAt[minute] = row + 1;
  }
  const width = sensor.incidents.length === 0 ? 0 : Math.floor((0.1 * observed.length) / sensor.incidents.length);
  const windows: { first: number; last: number }[] = [];
  for (const { startMinute, endMinute } of sensor.incidents) {
    const startRow = rowAt[startMinute];
    const first = Math.max(0, startRow - Math.floor(width / 2));
    const last = Math.min(observed.length - 1, Math.max(startRow + Math.floor(width / 2), rowAt[endMinute] - 1));
    if (first > last) continue;
    const previous = windows.at(-1);
    if (previous !== undefined && first <= previous.last + 1) previous.last = Math.max(previous.last, last);
    else windows.push({ first, last });
  }
  return { timestampsMs: Float64Array.from(observed, (minute) => sensor.timestampsMs[minute]), bytes: Float64Array.from(observed, (minute) => sensor.bytes[minute]), windows };
}

/** A timestamp as NAB's files write it: `2024-03-04 00:00:00` (UTC). */
function nabTimestamp(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Writes the sample as a NAB-style labelled corpus in `folder`: `<sensor>.csv` (`timestamp,value`,
 * bytes per observed minute) per sensor, and `labels.json` naming each file's windows (see
 * {@link nabLabelledSensor}), for `detour eval --data <folder> --labels <folder>/labels.json`.
 * Returns the files written, labels last.
 */
export async function writeNabTraffic(folder: string, options: TrafficSampleOptions): Promise<string[]> {
  const sensors = generateTraffic(options);
  await mkdir(folder, { recursive: true });
  const labels: Record<string, [string, string][]> = {};
  const written: string[] = [];
  for (const sensor of sensors) {
    const { timestampsMs, bytes, windows } = nabLabelledSensor(sensor);
    const name = `${sensor.sensorId}.csv`;
    const lines = ['timestamp,value'];
    for (let row = 0; row < bytes.length; row++) lines.push(`${nabTimestamp(timestampsMs[row])},${bytes[row]}`);
    await writeFileAtomically(path.join(folder, name), (temporary) => writeFile(temporary, `${lines.join('\n')}\n`));
    labels[name] = windows.map(({ first, last }) => [nabTimestamp(timestampsMs[first]), nabTimestamp(timestampsMs[last])]);
    written.push(path.join(folder, name));
  }
  await writeFileAtomically(path.join(folder, 'labels.json'), (temporary) => writeFile(temporary, `${JSON.stringify(labels, null, 1)}\n`));
  return [...written, path.join(folder, 'labels.json')];
}
