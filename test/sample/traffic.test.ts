import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';
import {
  generateSensorTraffic,
  generateTraffic,
  incidentDetection,
  SAMPLE_TRAFFIC_COLUMNS,
  TRAFFIC_INCIDENT_KINDS,
  writeSampleTraffic,
  type SensorTraffic,
} from '../../src/sample/index.js';

const MINUTES_PER_DAY = 1440;
const SAMPLE = { sensors: 20, days: 35, from: '2024-03-04', seed: 7 };

/** Median of the observed values of minutes that satisfy `select`. */
function medianOf(sensor: SensorTraffic, select: (minute: number) => boolean): number {
  const values: number[] = [];
  for (let minute = 0; minute < sensor.bytes.length; minute++) {
    if (select(minute) && sensor.injectedKind[minute] === 0 && !Number.isNaN(sensor.bytes[minute])) values.push(sensor.bytes[minute]);
  }
  return values.sort((a, b) => a - b)[values.length >> 1];
}

describe('sample traffic', () => {
  const sensors = generateTraffic(SAMPLE);

  it('is deterministic for a seed, and a sensor does not depend on how many are generated', () => {
    const again = generateSensorTraffic(4, SAMPLE);
    expect(again).toEqual(sensors[4]);
    expect(generateSensorTraffic(4, { ...SAMPLE, sensors: 5 })).toEqual(sensors[4]);
    expect(generateSensorTraffic(4, { ...SAMPLE, seed: 8 }).bytes).not.toEqual(sensors[4].bytes);
  });

  it('has one slot per minute, whole counts, and a few missing minutes', () => {
    for (const sensor of sensors) {
      expect(sensor.bytes).toHaveLength(35 * MINUTES_PER_DAY);
      expect(sensor.timestampsMs[0]).toBe(Date.parse('2024-03-04T00:00:00Z'));
      expect(sensor.timestampsMs[1] - sensor.timestampsMs[0]).toBe(60_000);
      const missing = sensor.bytes.filter(Number.isNaN).length / sensor.bytes.length;
      expect(missing).toBeGreaterThan(0.0005);
      expect(missing).toBeLessThan(0.01);
      for (const series of [sensor.bytes, sensor.packets, sensor.flows]) {
        expect(series.every((value) => Number.isNaN(value) || (Number.isInteger(value) && value >= 0))).toBe(true);
      }
    }
  });

  it('follows the day and the week: offices are busy on weekday afternoons, homes in the evening', () => {
    const office = sensors[0];
    const home = sensors[1];
    const minuteOfDay = (minute: number) => minute % MINUTES_PER_DAY;
    // 2024-03-04 is a Monday: days 5 and 6 of each week are the weekend.
    const isWeekend = (minute: number) => Math.floor(minute / MINUTES_PER_DAY) % 7 >= 5;
    const hour = (minute: number) => Math.floor(minuteOfDay(minute) / 60);
    const officeAfternoon = medianOf(office, (minute) => !isWeekend(minute) && hour(minute) === 14);
    expect(officeAfternoon).toBeGreaterThan(5 * medianOf(office, (minute) => !isWeekend(minute) && hour(minute) === 3));
    expect(officeAfternoon).toBeGreaterThan(4 * medianOf(office, (minute) => isWeekend(minute) && hour(minute) === 14));
    expect(medianOf(home, (minute) => hour(minute) === 21)).toBeGreaterThan(3 * medianOf(home, (minute) => hour(minute) === 5));
  });

  it('injects every kind of incident for a realistic number of minutes, and labels exactly those minutes', () => {
    const incidents = sensors.flatMap((sensor) => sensor.incidents);
    // Incidents still going on at the end of the period are cut there.
    const durations = (kind: string) =>
      incidents.filter((incident) => incident.kind === kind && incident.endMinute < 35 * MINUTES_PER_DAY).map(({ startMinute, endMinute }) => endMinute - startMinute);
    for (const kind of TRAFFIC_INCIDENT_KINDS) expect(durations(kind).length).toBeGreaterThan(50);
    expect(Math.max(...durations('spike'))).toBeLessThanOrEqual(20);
    expect(Math.min(...durations('level_shift'))).toBeGreaterThanOrEqual(120);
    for (const sensor of sensors) {
      const labelled = new Uint8Array(sensor.bytes.length);
      for (const { kind, startMinute, endMinute } of sensor.incidents) labelled.fill(1 + TRAFFIC_INCIDENT_KINDS.indexOf(kind), startMinute, endMinute);
      expect(sensor.injectedKind).toEqual(labelled);
    }
    // A flat-line repeats the last counters before it.
    const sensor = sensors.find((candidate) => candidate.incidents.some((incident) => incident.kind === 'flat_line'))!;
    const flatLine = sensor.incidents.find((incident) => incident.kind === 'flat_line')!;
    const observed = Array.from(sensor.bytes.subarray(flatLine.startMinute - 1, flatLine.endMinute)).filter((value) => !Number.isNaN(value));
    expect(new Set(observed).size).toBe(1);
  });

  it('scores flags against the labels: an incident is found by any flagged minute', () => {
    const sensor = sensors.find((candidate) => candidate.incidents.filter((incident) => incident.startMinute < MINUTES_PER_DAY * 34).length >= 2)!;
    const [first, second] = sensor.incidents;
    const from = first.startMinute - 10;
    const flags = new Uint8Array(second.endMinute + 10 - from);
    flags[first.startMinute + 1 - from] = 1;
    const normalMinute = first.endMinute + 5;
    flags[normalMinute - from] = 1;
    const detection = incidentDetection(sensor, flags, from);
    const counted = Object.values(detection.byKind).reduce((sum, kind) => sum + kind.incidents, 0);
    const found = Object.values(detection.byKind).reduce((sum, kind) => sum + kind.found, 0);
    expect(counted).toBe(sensor.incidents.filter((incident) => incident.startMinute >= from && incident.startMinute < from + flags.length).length);
    expect(found).toBe(Number.isNaN(sensor.bytes[first.startMinute + 1]) ? 0 : 1);
    expect(detection.flaggedNormalMinutes).toBe(Number.isNaN(sensor.bytes[normalMinute]) ? 0 : 1);
    // Two runs of flagged minutes were raised, one of them on an incident.
    expect([detection.alerts, detection.alertsOnIncidents]).toEqual([2, 1]);
    flags[first.startMinute + 2 - from] = 1;
    expect([incidentDetection(sensor, flags, from).alerts, incidentDetection(sensor, flags, from).alertsOnIncidents]).toEqual([2, 1]);
  });

  it('writes one Parquet file per day with every observed minute of every sensor', async () => {
    const lake = new FsLake(path.join(await mkdtemp(path.join(os.tmpdir(), 'detour-traffic-')), 'lake'));
    const options = { sensors: 2, days: 2, from: '2024-03-04', seed: 7 };
    const keys = await writeSampleTraffic(lake, options);
    expect(keys).toEqual(['bronze/traffic/date=2024-03-04/traffic.parquet', 'bronze/traffic/date=2024-03-05/traffic.parquet']);
    const engine = await openEngine();
    try {
      const file = lake.localPath(keys[1])!;
      const rows = await engine.rows<{ sensor_id: string; ts: string; bytes: number; is_injected_anomaly: number; injected_kind: string }>(
        `SELECT * FROM read_parquet($1, hive_partitioning = false) ORDER BY sensor_id, ts`,
        [file],
      );
      expect(Object.keys(rows[0])).toEqual([...SAMPLE_TRAFFIC_COLUMNS]);
      const generated = generateTraffic(options);
      const expectedRows = generated.flatMap((sensor) =>
        Array.from({ length: MINUTES_PER_DAY }, (_, offset) => MINUTES_PER_DAY + offset)
          .filter((minute) => !Number.isNaN(sensor.bytes[minute]))
          .map((minute) => ({ sensor: sensor.sensorId, minute, kind: sensor.injectedKind[minute] })),
      );
      expect(rows).toHaveLength(expectedRows.length);
      rows.forEach((row, index) => {
        const { sensor, minute, kind } = expectedRows[index];
        expect(row.sensor_id).toBe(sensor);
        expect(new Date(row.ts).getTime()).toBe(Date.parse('2024-03-04T00:00:00Z') + minute * 60_000);
        expect(row.bytes).toBe(generated.find((candidate) => candidate.sensorId === sensor)!.bytes[minute]);
        expect(row.is_injected_anomaly).toBe(kind > 0 ? 1 : 0);
        expect(row.injected_kind).toBe(kind > 0 ? TRAFFIC_INCIDENT_KINDS[kind - 1] : '');
      });
    } finally {
      await engine.close();
    }
  });
});
