import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NAB_PROFILES, nabFileScore, nabTotal, probationaryLength, scaledSigmoid, type NabProfile } from '../../src/detectors/index.js';

interface NabCase { file: string; rows: number; window_rows: [number, number][]; detection_rows: number[] }
const fixture = JSON.parse(readFileSync(new URL('../fixtures/nab_scoring_cases.json', import.meta.url), 'utf8')) as {
  cases: NabCase[];
  expected: Record<string, { raw: number; normalized: number; null: number; perfect: number; per_file_raw: Record<string, number> }>;
};

function flags(rows: number, detections: readonly number[]): Uint8Array {
  const detected = new Uint8Array(rows);
  for (const row of detections) detected[row] = 1;
  return detected;
}

const windowsOf = (rows: readonly [number, number][]) => rows.map(([first, last]) => ({ first, last }));

describe('NAB scoring', () => {
  it('rewards a detection by its place in the window, by hand', () => {
    // Window 400..440 (41 points): a detection at 420 is at -(440 - 420 + 1) / 41 of the window.
    const reward = scaledSigmoid(-21 / 41) / scaledSigmoid(-1);
    expect(nabFileScore(flags(1000, [420]), [{ first: 400, last: 440 }], NAB_PROFILES.standard).raw).toBeCloseTo(reward, 12);
    expect(reward).toBeCloseTo(0.868237, 6);
    // Only the first detection of a window counts; later ones cost nothing.
    expect(nabFileScore(flags(1000, [420, 430, 440]), [{ first: 400, last: 440 }], NAB_PROFILES.standard).raw).toBeCloseTo(reward, 12);
  });

  it('charges false positives by their distance after the window before them, and a missed window in full', () => {
    // 100 is probationary (first 150 of 1000): free. 300 precedes every window: -FP. 445 is 5 / 40 past the window.
    const expected = -1 - 0.11 + scaledSigmoid(5 / 40) * 0.11 - 0.11;
    expect(nabFileScore(flags(1000, [100, 300, 445, 700]), [{ first: 400, last: 440 }], NAB_PROFILES.standard).raw).toBeCloseTo(expected, 12);
    expect(nabFileScore(flags(1000, [100, 300, 445, 700]), [{ first: 400, last: 440 }], NAB_PROFILES.low_fn).raw).toBeCloseTo(expected - 1, 12);
    expect(probationaryLength(1000)).toBe(150);
    expect(probationaryLength(20_000)).toBe(750);
  });

  it('matches the published scores of the fixture cases per file and per profile, normalised so that null is 0 and perfect 100', () => {
    const profiles: [string, NabProfile][] = [['standard', 'standard'], ['reward_low_FP_rate', 'low_fp'], ['reward_low_FN_rate', 'low_fn']];
    for (const [name, profile] of profiles) {
      const expected = fixture.expected[name];
      const files = fixture.cases.map((nabCase) => {
        const score = nabFileScore(flags(nabCase.rows, nabCase.detection_rows), windowsOf(nabCase.window_rows), NAB_PROFILES[profile]);
        expect(score.raw, `${name} ${nabCase.file}`).toBeCloseTo(expected.per_file_raw[nabCase.file], 6);
        return score;
      });
      const total = nabTotal(files);
      expect(total.raw).toBeCloseTo(expected.raw, 6);
      expect(total.null).toBeCloseTo(expected.null, 9);
      expect(total.perfect).toBeCloseTo(expected.perfect, 9);
      expect(total.normalised).toBeCloseTo(expected.normalized, 5);
    }
  });

  it('gives window precision, recall and F1', () => {
    const total = nabTotal([nabFileScore(flags(2000, [510, 1555, 1700]), [{ first: 500, last: 540 }, { first: 1500, last: 1560 }, { first: 1800, last: 1810 }], NAB_PROFILES.standard)]);
    expect(total).toMatchObject({ windows: 3, detectedWindows: 2, detections: 3, detectionsInWindows: 2 });
    expect(total.precision).toBeCloseTo(2 / 3, 12);
    expect(total.recall).toBeCloseTo(2 / 3, 12);
    expect(total.f1).toBeCloseTo(2 / 3, 12);
  });
});
