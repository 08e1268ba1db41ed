import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { openEngine, type Engine } from '../../src/engine/index.js';
import { FsLake } from '../../src/lake/index.js';
import { pipelineLayout, type RunParams } from '../../src/pipeline/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

const CONFIG = DetourConfigSchema.parse({});
const DAY = '2024-04-01';
const LAYOUT = pipelineLayout('rides', CONFIG.pipelines.rides, DAY);
const HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';

/** A ride of the day as a CSV line; distances and times vary a little so that DBSCAN finds a cluster. */
function csvRide(id: string, index: number): string {
  return `${id},T${index % 7},${DAY} 08:00:00,${DAY} 08:15:00,${(2 + (index % 10) * 0.1).toFixed(1)},${10 + (index % 7)}`;
}

describe('the clean step', () => {
  let lake: FsLake;
  let store: Store;
  let engine: Engine;
  const run = () => runPipeline(lake, store, CONFIG, 'rides', [DAY]);
  const silverRows = (sql: string) => engine.rows(sql.replace('silver', 'read_parquet($1, hive_partitioning = false)'), [lake.localPath(LAYOUT.silver) as string]);

  beforeAll(async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'detour-clean-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    engine = await openEngine();
    // One day in two files: text and typed Parquet, neither with the sample's optional label columns.
    const good = Array.from({ length: 40 }, (_, i) => csvRide(`A${String(i).padStart(2, '0')}`, i));
    await lake.put(`${LAYOUT.input}a.csv`, [HEADER, ...good.slice(0, 20), csvRide('A99', 3).replace(',2.3,', ',-2.3,'), ...good.slice(20)].join('\n'));
    await engine.exportQuery(
      `SELECT 'B' || lpad(CAST(i AS VARCHAR), 2, '0') AS ride_id, 'T' || (i % 5) AS taxi_id, TIMESTAMP '${DAY} 09:00:00' AS pickup_ts,
        TIMESTAMP '${DAY} 09:12:00' AS dropoff_ts, 2.0 + (i % 10) / 10 AS ride_dist_km, 11 + i % 6 AS ride_time_min
      FROM range(30) AS rides(i)`,
      lake,
      `${LAYOUT.input}b.parquet`,
      'parquet',
    );
  });
  afterAll(async () => {
    await engine.close();
    await store.close();
  });

  let silverBytes: Buffer;
  let quarantineBytes: Buffer;

  it('writes silver with the schema columns in order and typed, rows in file then row order, a missing optional column as typed NULL', async () => {
    const { run: record, summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 71, rows_valid: 70, rows_quarantined: 1, quarantine_reasons: { 'negative ride_dist_km': 1 } });
    expect(summary.outputs.quarantine).toBe(LAYOUT.quarantine);
    // Schema order is the order of the run's stored params (the run store keeps them as JSONB, which orders keys its own way).
    const schema = (record.params as unknown as RunParams).dataset.columns;
    const sqlTypes = { string: 'VARCHAR', number: 'DOUBLE', timestamp: 'TIMESTAMP' };
    const columns = await silverRows(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM silver)`);
    expect(columns).toEqual(Object.entries(schema).map(([name, column]) => ({ column_name: name, column_type: sqlTypes[column.type] })));
    expect(columns).toHaveLength(8);
    const rows = await silverRows(`SELECT ride_id, ride_dist_km, is_injected_anomaly, injected_kind FROM silver`);
    expect(rows.map((row) => row.ride_id)).toEqual([
      ...Array.from({ length: 40 }, (_, i) => `A${String(i).padStart(2, '0')}`),
      ...Array.from({ length: 30 }, (_, i) => `B${String(i).padStart(2, '0')}`),
    ]);
    expect(rows[41]).toEqual({ ride_id: 'B01', ride_dist_km: 2.1, is_injected_anomaly: null, injected_kind: null });
    silverBytes = await lake.get(LAYOUT.silver);
    quarantineBytes = await lake.get(LAYOUT.quarantine);
  });

  it('writes the same bytes again on a rerun, and deletes the quarantine once a rerun has no rejects', async () => {
    await run();
    expect(await lake.get(LAYOUT.silver)).toEqual(silverBytes);
    expect(await lake.get(LAYOUT.quarantine)).toEqual(quarantineBytes);

    const fixed = (await lake.get(`${LAYOUT.input}a.csv`)).toString().replace(',-2.3,', ',2.3,');
    await lake.put(`${LAYOUT.input}a.csv`, fixed);
    const { summaries: [summary] } = await run();
    expect(summary).toMatchObject({ rows_read: 71, rows_valid: 71, rows_quarantined: 0, quarantine_reasons: {} });
    expect(summary.outputs.quarantine).toBeNull();
    expect(await lake.exists(LAYOUT.quarantine)).toBe(false);
  });
});
