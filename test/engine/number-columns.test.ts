import { afterEach, beforeEach, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine/index.js';

let engine: Engine;
beforeEach(async () => {
  engine = await openEngine();
});
afterEach(async () => {
  await engine.close();
});

it('reads DOUBLE columns as Float64Arrays in query order, over many chunks, NULL as NaN', async () => {
  const [doubled, maybe] = await engine.numberColumns(`SELECT CAST(i * 2 AS DOUBLE) AS doubled, CASE WHEN i % 1000 = 0 THEN NULL ELSE CAST(i AS DOUBLE) END AS maybe FROM range($1) t(i) ORDER BY i DESC`, [5000]);
  expect(doubled).toBeInstanceOf(Float64Array);
  expect(doubled).toHaveLength(5000);
  expect([doubled[0], doubled[4999], maybe[1]]).toEqual([9998, 0, 4998]);
  expect([maybe[999], maybe[4999]]).toEqual([Number.NaN, Number.NaN]);
  expect(maybe.filter(Number.isNaN)).toHaveLength(5);
  // Every other value where it belongs, whatever byte of the validity mask it sits in.
  expect(maybe.every((value, row) => (Number.isNaN(value) ? (4999 - row) % 1000 === 0 : value === 4999 - row))).toBe(true);
  expect(await engine.numberColumns(`SELECT 1.5::DOUBLE AS x WHERE false`)).toEqual([new Float64Array(0)]);
});

it('refuses a column that is not a DOUBLE, naming it', async () => {
  await expect(engine.numberColumns(`SELECT 1.5::DOUBLE AS x, 'a' AS label`)).rejects.toThrow('column label is not a DOUBLE');
});
