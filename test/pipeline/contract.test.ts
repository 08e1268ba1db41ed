import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/index.js';
import { dateRange } from '../../src/dates.js';
import { partitionLabel, planRun, StepJobSchema, type StepPartition } from '../../src/pipeline/index.js';

const CONFIG_YAML = `
datasets:
  departures:
    columns:
      route: { type: string }
      departed_at: { type: timestamp }
      minutes_late: { type: number }
pipelines:
  bus_delays:
    dataset: departures
    chunkDays: 2
    aggregate:
      - { name: route_lateness, sql: "SELECT route, CAST(departed_at AS DATE) AS day, avg(minutes_late) AS late FROM departures GROUP BY ALL" }
    detect:
      - { detector: arima, table: route_lateness, entity: route, time: day, value: late, partitions: 2 }
      - { detector: iforest, table: route_lateness, entity: route, time: day, features: [late] }
      - { detector: dbscan, table: departures, id: route, features: [minutes_late] }
`;
const CONFIG = parseConfigText(CONFIG_YAML, 'test.yaml');

describe('the step contract', () => {
  it('labels partitions for people, never to be parsed back', () => {
    const cases: [StepPartition, string][] = [
      [{ kind: 'dates', from: '2024-01-01', to: '2024-01-01' }, '2024-01-01'],
      [{ kind: 'dates', from: '2024-01-01', to: '2024-01-31' }, '2024-01-01..2024-01-31'],
      [{ kind: 'record-day', detectStep: 2, detector: 'dbscan', date: '2024-01-05' }, '2-dbscan-2024-01-05'],
      [{ kind: 'entity-shard', detectStep: 0, detector: 'arima', shard: 1, shards: 2 }, '0-arima-shard2of2'],
      [{ kind: 'entity-shard', detectStep: 1, detector: 'iforest', shard: 0, shards: 1 }, '1-iforest'],
      [{ kind: 'run' }, 'all'],
      [{ kind: 'train-shard', trainStep: 0, model: 'bus_iforest', shard: 2, shards: 4 }, '0-bus_iforest-shard3of4'],
      [{ kind: 'train-shard', trainStep: 1, model: 'bus_weekly', shard: 0, shards: 1 }, '1-bus_weekly'],
    ];
    for (const [partition, label] of cases) expect(partitionLabel(partition)).toBe(label);
  });

  it('plans every step of a run with its partition as data, in graph order', () => {
    const steps = planRun(CONFIG.pipelines.bus_delays, dateRange('2024-01-01', '2024-01-03'));
    expect(steps.map((step) => `${step.position} ${step.step} ${step.partition} ${step.status}`)).toEqual([
      '0 clean 2024-01-01..2024-01-02 pending',
      '0 clean 2024-01-03 pending',
      '1 quality 2024-01-01..2024-01-02 pending',
      '1 quality 2024-01-03 pending',
      '2 aggregate 2024-01-01..2024-01-02 pending',
      '2 aggregate 2024-01-03 pending',
      '3 detect 0-arima-shard1of2 pending',
      '3 detect 0-arima-shard2of2 pending',
      '3 detect 1-iforest pending',
      '3 detect 2-dbscan-2024-01-01 pending',
      '3 detect 2-dbscan-2024-01-02 pending',
      '3 detect 2-dbscan-2024-01-03 pending',
      '5 publish all pending',
    ]);
    expect(steps[0].spec).toEqual({ kind: 'dates', from: '2024-01-01', to: '2024-01-02' });
    expect(steps[7].spec).toEqual({ kind: 'entity-shard', detectStep: 0, detector: 'arima', shard: 1, shards: 2 });
  });

  it('plans a training run as the train step alone: a partition per entity shard of each training step asked for', () => {
    const config = parseConfigText(
      `${CONFIG_YAML}    train:
      - { model: bus_iforest, detector: iforest, table: route_lateness, entity: route, time: day, features: [late], partitions: 2 }
      - { model: bus_weekly, detector: iforest, table: route_lateness, entity: route, time: day, value: late }
`,
      'test.yaml',
    );
    const pipeline = config.pipelines.bus_delays;
    expect(planRun(pipeline, ['2024-01-03'], { steps: [0, 1] }).map((step) => `${step.position} ${step.step} ${step.partition} ${step.status}`)).toEqual([
      '7 train 0-bus_iforest-shard1of2 pending',
      '7 train 0-bus_iforest-shard2of2 pending',
      '7 train 1-bus_weekly pending',
    ]);
    expect(planRun(pipeline, ['2024-01-03'], { steps: [1], entities: ['B1'] }).map((step) => step.spec)).toEqual([{ kind: 'train-shard', trainStep: 1, model: 'bus_weekly', shard: 0, shards: 1 }]);
    // A detection run of the same pipeline trains nothing.
    expect(planRun(pipeline, ['2024-01-03']).some((step) => step.step === 'train')).toBe(false);
  });

  it('plans a step with nothing to do as skipped', () => {
    const steps = planRun({ ...CONFIG.pipelines.bus_delays, aggregate: [] }, ['2024-01-01']);
    expect(steps.filter((step) => step.step === 'aggregate').map((step) => step.status)).toEqual(['skipped']);
  });

  it('round-trips a step job through JSON and refuses a malformed one with a message naming the field', () => {
    const job = { runId: 'r1', step: 'clean', partition: { kind: 'dates', from: '2024-01-01', to: '2024-01-31' } };
    expect(StepJobSchema.parse(JSON.parse(JSON.stringify(job)))).toEqual(job);
    expect(() => StepJobSchema.parse({ ...job, partition: { kind: 'dates', from: '2024-02-30', to: '2024-03-01' } })).toThrow(/YYYY-MM-DD/);
    expect(() => StepJobSchema.parse({ ...job, step: 'join' })).toThrow(/step/);
  });
});
