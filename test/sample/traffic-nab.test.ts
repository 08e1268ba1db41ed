import { describe, expect, it } from 'vitest';
import { generateSensorTraffic, nabLabelledSensor } from '../../src/sample/index.js';

describe('the traffic sample as NAB labels', () => {
  const sensor = generateSensorTraffic(2, { sensors: 20, days: 35, from: '2024-03-04', seed: 7 });
  const labelled = nabLabelledSensor(sensor);

  it('keeps the observed minutes only, in order', () => {
    expect(labelled.bytes.every((value) => !Number.isNaN(value))).toBe(true);
    expect(labelled.bytes.length).toBe(sensor.bytes.filter((value) => !Number.isNaN(value)).length);
    for (let row = 1; row < labelled.timestampsMs.length; row++) expect(labelled.timestampsMs[row]).toBeGreaterThan(labelled.timestampsMs[row - 1]);
  });

  it('puts every incident in a window centred on its start and stretched to its end, windows sorted and apart', () => {
    const rowOf = (minute: number) => labelled.timestampsMs.findIndex((time) => time >= sensor.timestampsMs[minute]);
    const halfWidth = Math.floor(Math.floor((0.1 * labelled.bytes.length) / sensor.incidents.length) / 2);
    for (const incident of sensor.incidents) {
      const start = rowOf(incident.startMinute);
      const window = labelled.windows.find(({ first, last }) => first <= start && start <= last);
      expect(window, `${incident.kind} at ${incident.startMinute}`).toBeDefined();
      expect(window!.first).toBeLessThanOrEqual(Math.max(0, start - halfWidth));
      expect(window!.last).toBeGreaterThanOrEqual(Math.min(labelled.bytes.length - 1, start + halfWidth));
    }
    labelled.windows.forEach((window, k) => {
      expect(window.first).toBeLessThanOrEqual(window.last);
      if (k > 0) expect(window.first).toBeGreaterThan(labelled.windows[k - 1].last + 1);
    });
  });
});
