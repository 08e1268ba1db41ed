import { describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { describeOutlier, detectRecords } from '../../src/pipeline/index.js';

const step = DetourConfigSchema.parse({}).pipelines.rides.detect[0];
if (step.detector !== 'dbscan') throw new Error('the built-in rides pipeline detects with dbscan');

describe('record detection explanations', () => {
  it('explains an outlier against the band of similar records', () => {
    const reason = describeOutlier({ feature: 1, givenFeature: 0, value: 94, expected: 21, low: 12, high: 31, sigmas: 6.1 }, step.features, step.records);
    expect(reason).toBe('ride time 94 min is 6.1σ above rides of similar distance (expected 12–31 min)');
  });

  it('says there is nothing to compare with when every record of the day is noise, never NaN', async () => {
    const ids = ['A', 'B', 'C'];
    const table = { idsOf: async (rows: readonly number[]) => rows.map((row) => ids[row]), entities: ['T1', 'T1', 'T2'], features: [Float64Array.of(2.5, 3, 40), Float64Array.of(10, 12, 55)] };
    const { findings, facts } = await detectRecords(step, table, '2024-01-03');
    expect(facts).toMatchObject({ clusters: [], outliers: 3 });
    expect(findings.map((finding) => [finding.id, finding.entity])).toEqual([['A', 'T1'], ['B', 'T1'], ['C', 'T2']]);
    for (const finding of findings) {
      expect(finding.reason).not.toMatch(/NaN/);
      expect(finding.reason).toMatch(/: no cluster of rides to compare with \(too few similar rides this day\)$/);
      expect(finding.score).toBe(1);
    }
  });
});
