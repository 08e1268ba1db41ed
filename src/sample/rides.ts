/**
 * Seeded generator of realistic taxi rides: an urban mix whose speed follows the hour of day,
 * with about 1% injected anomalies of the kinds fleet analysts look for. Pure: no I/O.
 */
import { SeededRandom } from '../random.js';

// The sample capability's face (index.ts) offers the generator from here, for seeded test and bench data.
export { SeededRandom };

/** Kinds of injected anomaly, in the order of `InjectedKind` codes 1..3 (0 = normal ride). */
export const INJECTED_KINDS = ['long_time', 'long_distance', 'stuck_meter'] as const;
export type InjectedKind = (typeof INJECTED_KINDS)[number];

/** Share of rides that are injected anomalies. */
export const INJECTED_ANOMALY_RATE = 0.01;

// Relative ride demand per hour of day (night lull, morning and evening peaks).
const DEMAND_BY_HOUR = [
  3, 2, 1.5, 1, 1, 1.5, 3, 6, 8, 7, 5.5, 5.5, 6, 6, 5.5, 6, 7, 8.5, 9, 8, 7, 6, 5, 4,
];
// Typical street speed per hour of day in km/h: free-flowing at night, congested at the peaks.
const SPEED_KMH_BY_HOUR = [
  34, 36, 37, 37, 36, 32, 25, 16, 13, 16, 19, 20, 19, 19, 19, 18, 15, 13, 13, 16, 21, 25, 28, 31,
];
const AIRPORT_TRIP_SHARE = 0.05;
const PICKUP_OVERHEAD_MIN = 1.5;

/** Stable 32-bit seed for one day of a seeded sample, so every date differs but reruns match. */
export function seedForDate(seed: number, logicalDate: string): number {
  let hash = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < logicalDate.length; i++) {
    hash = Math.imul(hash ^ logicalDate.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}

export interface RideFeatures {
  rideDistKm: Float64Array;
  rideTimeMin: Float64Array;
  /** Minutes after midnight of the pickup. */
  pickupMinuteOfDay: Float64Array;
  /** 0 for a normal ride, else 1 + index into INJECTED_KINDS. */
  injectedKind: Uint8Array;
  /** Index of the taxi (0..taxiCount-1). */
  taxiIndex: Int32Array;
}

const cumulativeDemand = (() => {
  const total = DEMAND_BY_HOUR.reduce((sum, weight) => sum + weight, 0);
  let running = 0;
  return DEMAND_BY_HOUR.map((weight) => (running += weight / total));
})();

/** A pickup minute of the day (0..1440), drawn from the hourly demand: night lull, morning and evening peaks. */
export function samplePickupMinute(random: SeededRandom): number {
  const u = random.next();
  let hour = 0;
  while (hour < 23 && cumulativeDemand[hour] < u) hour++;
  return hour * 60 + random.next() * 60;
}

/** Street speed at a minute of the day, interpolated between hourly values. */
export function speedKmhAt(minuteOfDay: number): number {
  const hour = Math.floor(minuteOfDay / 60) % 24;
  const fraction = minuteOfDay / 60 - Math.floor(minuteOfDay / 60);
  return SPEED_KMH_BY_HOUR[hour] * (1 - fraction) + SPEED_KMH_BY_HOUR[(hour + 1) % 24] * fraction;
}

/**
 * Ride distance and time for `count` rides of one day. Typed arrays only, so 10M rides fit in a
 * few hundred MB for benchmarks.
 */
export function generateRideFeatures(count: number, seed: number, taxiCount = 3000): RideFeatures {
  const random = new SeededRandom(seed);
  const rideDistKm = new Float64Array(count);
  const rideTimeMin = new Float64Array(count);
  const pickupMinuteOfDay = new Float64Array(count);
  const injectedKind = new Uint8Array(count);
  const taxiIndex = new Int32Array(count);
  // A few taxis have a stuck meter that day; each reports one near-constant distance.
  const stuckMeterTaxis = Math.max(1, Math.round(taxiCount * 0.002));
  for (let i = 0; i < count; i++) {
    const pickupMinute = samplePickupMinute(random);
    pickupMinuteOfDay[i] = pickupMinute;
    let taxi = Math.floor(random.next() * taxiCount);
    const isAirportTrip = random.next() < AIRPORT_TRIP_SHARE;
    // Urban trips are log-normal around 3 km; airport trips 15-35 km, partly on faster roads.
    let distKm = isAirportTrip ? random.uniform(15, 35) : Math.exp(Math.log(3) + 0.65 * random.normal());
    const speedKmh = speedKmhAt(pickupMinute) * (isAirportTrip ? 1.6 : 1) * Math.exp(0.18 * random.normal());
    let timeMin = PICKUP_OVERHEAD_MIN + (distKm / speedKmh) * 60;
    let kind = 0;
    if (random.next() < INJECTED_ANOMALY_RATE) {
      kind = 1 + Math.floor(random.next() * INJECTED_KINDS.length);
      switch (INJECTED_KINDS[kind - 1]) {
        case 'long_time': // stuck in traffic, detour or meter left running
          timeMin = timeMin * random.uniform(3, 6) + random.uniform(20, 60);
          break;
        case 'long_distance': // intercity trip at highway speed
          distKm = random.uniform(60, 250);
          timeMin = PICKUP_OVERHEAD_MIN + (distKm / random.uniform(55, 95)) * 60;
          break;
        case 'stuck_meter': // the odometer feed froze: near-identical tiny distance, real duration
          taxi = Math.floor(random.next() * stuckMeterTaxis);
          distKm = 0.05 + 0.02 * taxi + random.uniform(-0.005, 0.005);
          timeMin = random.uniform(15, 75);
          break;
      }
    }
    rideDistKm[i] = Math.round(distKm * 1000) / 1000;
    rideTimeMin[i] = Math.round(timeMin * 100) / 100;
    injectedKind[i] = kind;
    taxiIndex[i] = taxi;
  }
  return { rideDistKm, rideTimeMin, pickupMinuteOfDay, injectedKind, taxiIndex };
}

/** Column names of generated ride files, in file order. */
export const SAMPLE_RIDE_COLUMNS = [
  'ride_id',
  'taxi_id',
  'pickup_ts',
  'dropoff_ts',
  'ride_dist_km',
  'ride_time_min',
  'is_injected_anomaly',
  'injected_kind',
] as const;

/** `YYYY-MM-DD HH:MM:SS` of a minute (fractional) after midnight of `logicalDate`, as sample files write times. */
export function isoTimestamp(logicalDate: string, minuteOfDay: number): string {
  const millis = Date.parse(`${logicalDate}T00:00:00Z`) + Math.round(minuteOfDay * 60_000);
  return new Date(millis).toISOString().replace('T', ' ').slice(0, 19);
}

/** One day of rides as CSV text with a header row (`SAMPLE_RIDE_COLUMNS`). */
export function generateRidesCsv(logicalDate: string, count: number, seed: number): string {
  const features = generateRideFeatures(count, seedForDate(seed, logicalDate));
  const datePart = logicalDate.replaceAll('-', '');
  const lines: string[] = [SAMPLE_RIDE_COLUMNS.join(',')];
  for (let i = 0; i < count; i++) {
    const pickupMinute = features.pickupMinuteOfDay[i];
    const kind = features.injectedKind[i];
    lines.push(
      [
        `R${datePart}-${String(i).padStart(7, '0')}`,
        `T${String(features.taxiIndex[i]).padStart(4, '0')}`,
        isoTimestamp(logicalDate, pickupMinute),
        isoTimestamp(logicalDate, pickupMinute + features.rideTimeMin[i]),
        features.rideDistKm[i],
        features.rideTimeMin[i],
        kind > 0 ? 1 : 0,
        kind > 0 ? INJECTED_KINDS[kind - 1] : '',
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}
