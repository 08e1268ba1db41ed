import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { QualityGateError } from '../../src/errors.js';
import { assertQualityGate, checkExpectations, type DatedRows, type Expectation } from '../../src/quality/index.js';

/** The whole table as one date's rows, sampled in insertion order. */
const TRIPS: DatedRows = { from: 'trips', dateIndexSql: '0', rowOrderSql: 'rowid' };

describe('data-quality expectations', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await openEngine();
    await engine.run(`CREATE TABLE trips AS SELECT * FROM (VALUES
      ('a', 'ORD', 10.0, TIMESTAMP '2024-01-01 20:00:00'),
      ('b', 'ORD', 20.0, TIMESTAMP '2024-01-01 21:00:00'),
      ('c', 'XXX', NULL, TIMESTAMP '2024-01-01 22:00:00'),
      ('c', 'DEN', 900.0, TIMESTAMP '2024-01-01 23:30:00')
    ) AS t(id, origin, delay, departed_at)`);
  });
  afterAll(async () => {
    await engine.close();
  });

  const cases: [Expectation, { passed: boolean; observed: number | null; failingRows?: number | null }][] = [
    [{ type: 'not_null', column: 'delay', severity: 'fail' }, { passed: false, observed: 1, failingRows: 1 }],
    [{ type: 'not_null', column: 'origin', severity: 'fail' }, { passed: true, observed: 0, failingRows: 0 }],
    [{ type: 'between', column: 'delay', min: -60, max: 600, severity: 'warn' }, { passed: false, observed: 1, failingRows: 1 }],
    [{ type: 'between', column: 'delay', min: 0, severity: 'fail' }, { passed: true, observed: 0 }],
    [{ type: 'in_set', column: 'origin', values: ['ORD', 'DEN'], severity: 'fail' }, { passed: false, observed: 1, failingRows: 1 }],
    [{ type: 'unique', column: 'id', severity: 'fail' }, { passed: false, observed: 2, failingRows: 2 }],
    [{ type: 'row_count_between', min: 1, max: 4, severity: 'fail' }, { passed: true, observed: 4, failingRows: null }],
    [{ type: 'row_count_between', min: 5, severity: 'fail' }, { passed: false, observed: 4 }],
    [{ type: 'mean_between', column: 'delay', min: 0, max: 100, severity: 'warn' }, { passed: false, observed: 310 }],
    [{ type: 'freshness', column: 'departed_at', maxAgeHours: 1, severity: 'fail' }, { passed: true, observed: 0.5 }],
    [{ type: 'freshness', column: 'departed_at', maxAgeHours: 0.25, severity: 'warn' }, { passed: false, observed: 0.5 }],
  ];

  it.each(cases)('%o', async (expectation, expected) => {
    const [report] = await checkExpectations(engine, TRIPS, [expectation], { dataset: 'trips', logicalDates: ['2024-01-01'] });
    expect(report.rows).toBe(4);
    expect(report.results[0]).toMatchObject({ type: expectation.type, severity: expectation.severity, ...expected });
    expect(report.passed).toBe(expected.passed || expectation.severity === 'warn');
  });

  it('samples failing rows and reports every result', async () => {
    const [report] = await checkExpectations(
      engine,
      TRIPS,
      [
        { type: 'in_set', column: 'origin', values: ['ORD', 'DEN'], severity: 'warn' },
        { type: 'not_null', column: 'delay', severity: 'fail' },
      ],
      { dataset: 'trips', logicalDates: ['2024-01-01'] },
    );
    expect(report.results.map((result) => result.expectation)).toEqual(['origin in {ORD, DEN}', 'delay is not null']);
    expect(report.results[0].sample).toEqual([{ id: 'c', origin: 'XXX', delay: null, departed_at: '2024-01-01T22:00:00.000Z' }]);
    expect(report.passed).toBe(false);
    expect(() => assertQualityGate(report, 'silver/trips_quality/date=2024-01-01/report.json')).toThrow(QualityGateError);
    expect(() => assertQualityGate(report, 'r.json')).toThrow('quality gate failed for trips on 2024-01-01: delay is not null (observed 1); report: r.json');
  });

  it('checks several dates in one pass, each date as if alone: its own rows, duplicates, samples and freshness', async () => {
    // Day 0 holds the four trips; day 1 two trips of its own (ids a and c again, delays null and 5); day 2 none.
    await engine.run(`CREATE TABLE dated_trips AS
      SELECT 0 AS day, rowid AS position, * FROM trips
      UNION ALL SELECT 1, 0, 'a', 'ORD', NULL, TIMESTAMP '2024-01-02 12:00:00'
      UNION ALL SELECT 1, 1, 'c', 'DEN', 5.0, TIMESTAMP '2024-01-02 13:00:00'`);
    const rows: DatedRows = { from: '(SELECT * EXCLUDE (day, position), day, position FROM dated_trips)', dateIndexSql: 'day', rowOrderSql: 'position' };
    const reports = await checkExpectations(
      engine,
      rows,
      [
        { type: 'unique', column: 'id', severity: 'warn' },
        { type: 'not_null', column: 'delay', severity: 'fail' },
        { type: 'row_count_between', min: 1, severity: 'fail' },
        { type: 'freshness', column: 'departed_at', maxAgeHours: 12, severity: 'warn' },
      ],
      { dataset: 'trips', logicalDates: ['2024-01-01', '2024-01-02', '2024-01-03'], sampleSize: 1 },
    );
    expect(reports.map((report) => [report.logicalDate, report.rows, report.passed])).toEqual([
      ['2024-01-01', 4, false],
      ['2024-01-02', 2, false],
      ['2024-01-03', 0, false],
    ]);
    expect(reports.map((report) => report.results.map((result) => result.observed))).toEqual([
      [2, 1, 4, 0.5],
      [0, 1, 2, 11],
      [0, 0, 0, null],
    ]);
    expect(reports[1].results[3].expectation).toBe('newest departed_at at most 12 h before the end of 2024-01-02');
    const samples = reports.map((report) => report.results.map((result) => result.sample.map((sample) => sample.id)));
    expect(samples).toEqual([
      [['c'], ['c'], [], []],
      [[], ['a'], [], []],
      [[], [], [], []],
    ]);
  });
});
