import { describe, expect, it } from 'vitest';
import { newStreamState, scoreStream, STREAM_KIND, STREAM_STATE_LENGTH } from '../../src/detectors/index.js';
import { SeededRandom } from '../../src/random.js';

const MINUTE_MS = 60_000;
const DAY_MINUTES = 1440;

/** `days` days of a per-minute count with a daily cycle and 3% noise, from Monday 2024-03-04. */
function dailyCycle(days: number, seed = 1): { timestampsMs: Float64Array; values: Float64Array } {
  const random = new SeededRandom(seed);
  const start = Date.parse('2024-03-04T00:00:00Z');
  const count = days * DAY_MINUTES;
  const timestampsMs = new Float64Array(count);
  const values = new Float64Array(count);
  for (let minute = 0; minute < count; minute++) {
    timestampsMs[minute] = start + minute * MINUTE_MS;
    const level = 1e6 * (1.5 + Math.sin((2 * Math.PI * (minute % DAY_MINUTES)) / DAY_MINUTES));
    values[minute] = Math.round(level * Math.exp(0.03 * random.normal()));
  }
  return { timestampsMs, values };
}

describe('the streaming detector', () => {
  it('keeps a state of fixed size however long the series', () => {
    const state = newStreamState();
    const { timestampsMs, values } = dailyCycle(10);
    scoreStream(state, timestampsMs, values);
    expect(state).toHaveLength(STREAM_STATE_LENGTH);
    expect(STREAM_STATE_LENGTH).toBeLessThan(500);
  });

  it('gives the same verdicts scored day by day from the carried state as in one pass', () => {
    const { timestampsMs, values } = dailyCycle(6);
    values[4 * DAY_MINUTES + 600] *= 8;
    const whole = scoreStream(newStreamState(), timestampsMs, values);
    const state = newStreamState();
    const flags: number[] = [];
    const scores: number[] = [];
    for (let day = 0; day < 6; day++) {
      const slice = [day * DAY_MINUTES, (day + 1) * DAY_MINUTES] as const;
      // A checkpoint is the state through JSON, NaN as null.
      const restored = Float64Array.from(JSON.parse(JSON.stringify(Array.from(state, (v) => (Number.isNaN(v) ? null : v)))) as (number | null)[], (v) => v ?? Number.NaN);
      const part = scoreStream(restored, timestampsMs.subarray(...slice), values.subarray(...slice));
      state.set(restored);
      flags.push(...part.isAnomaly);
      scores.push(...part.score);
    }
    expect(Uint8Array.from(flags)).toEqual(whole.isAnomaly);
    expect(Float64Array.from(scores)).toEqual(whole.score);
  });

  it('scores a rerun from the same checkpoint the same way', () => {
    const { timestampsMs, values } = dailyCycle(3);
    const checkpoint = newStreamState();
    scoreStream(checkpoint, timestampsMs.subarray(0, 2 * DAY_MINUTES), values.subarray(0, 2 * DAY_MINUTES));
    const first = scoreStream(checkpoint.slice(), timestampsMs.subarray(2 * DAY_MINUTES), values.subarray(2 * DAY_MINUTES));
    const again = scoreStream(checkpoint.slice(), timestampsMs.subarray(2 * DAY_MINUTES), values.subarray(2 * DAY_MINUTES));
    expect(again).toEqual(first);
  });

  it('stays quiet on normal traffic and alerts once on a spike, a drop and a stuck exporter after its first day', () => {
    const { timestampsMs, values } = dailyCycle(5);
    const quiet = scoreStream(newStreamState(), timestampsMs, values);
    expect(quiet.isAnomaly.reduce((sum, flag) => sum + flag, 0)).toBeLessThanOrEqual(2);
    expect(Array.from(quiet.isAnomaly.subarray(0, DAY_MINUTES)).every((flag) => flag === 0)).toBe(true);

    const spike = 2 * DAY_MINUTES + 300;
    const drop = 3 * DAY_MINUTES + 500;
    const stuck = 4 * DAY_MINUTES + 700;
    for (let minute = spike; minute < spike + 5; minute++) values[minute] *= 5;
    for (let minute = drop; minute < drop + 30; minute++) values[minute] *= 0.1;
    values.fill(values[stuck - 1], stuck, stuck + 40);
    const result = scoreStream(newStreamState(), timestampsMs, values);
    const alertsIn = (from: number, to: number) => result.isAnomaly.subarray(from, to).reduce((sum, flag) => sum + flag, 0);
    expect(alertsIn(spike, spike + 5)).toBe(1);
    expect(result.zScore[spike]).toBeGreaterThan(5);
    expect(result.upper[spike]).toBeLessThan(values[spike]);
    expect(alertsIn(drop, drop + 30)).toBe(1);
    expect(alertsIn(stuck, stuck + 40)).toBe(1);
    expect(result.kind[stuck + result.isAnomaly.subarray(stuck, stuck + 40).indexOf(1)]).toBe(STREAM_KIND.repeated);
  });

  it('skips missing points without learning from them', () => {
    const { timestampsMs, values } = dailyCycle(2);
    values[DAY_MINUTES + 10] = Number.NaN;
    const result = scoreStream(newStreamState(), timestampsMs, values);
    expect(result.score[DAY_MINUTES + 10]).toBeNaN();
    expect(result.isAnomaly[DAY_MINUTES + 10]).toBe(0);
  });
});
