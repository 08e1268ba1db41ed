import { describe, expect, it } from 'vitest';
import { shardEntities } from '../../src/pipeline/entity-rows.js';
import { sensorIds } from '../../bench/sensor-lake.js';

describe('entity shards: the entities dealt evenly and the same way in every process', () => {
  it.each([
    { entities: ['b', 'a', 'c', 'a'], shards: 2, expected: [['a', 'c'], ['b']] },
    { entities: ['x'], shards: 3, expected: [['x'], [], []] },
    { entities: ['Z', 'a', 'B'], shards: 1, expected: [['B', 'Z', 'a']] },
    { entities: [], shards: 2, expected: [[], []] },
  ])('deals $entities into $shards shards', ({ entities, shards, expected }) => {
    expect(Array.from({ length: shards }, (_, shard) => [...shardEntities(entities, { shard, shards })])).toEqual(expected);
  });

  it('puts 20 sensors two to each of 10 shards, each sensor in exactly one, whatever the order they are read in', () => {
    const sensors = sensorIds(20);
    const shards = Array.from({ length: 10 }, (_, shard) => [...shardEntities(sensors, { shard, shards: 10 })]);
    expect(shards.map((shard) => shard.length)).toEqual(Array(10).fill(2));
    expect(shards.flat().sort()).toEqual([...sensors].sort());
    const reversed = Array.from({ length: 10 }, (_, shard) => [...shardEntities([...sensors].reverse(), { shard, shards: 10 })]);
    expect(reversed).toEqual(shards);
  });
});
