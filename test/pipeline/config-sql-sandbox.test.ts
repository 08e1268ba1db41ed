import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText, type DetourConfig, type TablePipelineConfig } from '../../src/config/index.js';
import { openEngine, sqlIdentifier } from '../../src/engine/index.js';
import { InputError } from '../../src/errors.js';
import { FsLake } from '../../src/lake/index.js';
import { dateRange } from '../../src/dates.js';
import { pipelineLayout } from '../../src/pipeline/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { runPipeline } from '../helpers/pipeline.js';

// Parking sensors: each run's aggregate steps are the test's own (see withAggregate).
const YAML = `
datasets:
  occupancy:
    columns:
      zone: { type: string }
      read_at: { type: timestamp }
      occupied: { type: number, min: 0 }
pipelines:
  parking:
    dataset: occupancy
    aggregate:
      - { name: zone_day, sql: "SELECT zone, CAST(read_at AS DATE) AS day, avg(occupied) AS occupied FROM occupancy GROUP BY ALL" }
    detect:
      - { detector: arima, table: zone_day, entity: zone, time: day, value: occupied }
`;

const DATES = dateRange('2024-03-01', '2024-03-03');
const [DAY, OTHER_DAY] = DATES;
const SECRET = 'config-sql-must-never-see-this';

/** Two steps, the second reading the first by name, with a `;` inside a string and a trailing one. */
const TWO_STEPS: TablePipelineConfig['aggregate'] = [
  { name: 'zone_day', sql: "SELECT zone, CAST(read_at AS DATE) AS day, avg(occupied) AS occupied, count(*) AS readings, 'a;b' AS note FROM occupancy GROUP BY ALL" },
  { name: 'busy_zones', sql: 'SELECT zone, day, occupied FROM zone_day WHERE occupied > 3 -- the busy ones;\n;' },
];

/** Three zones, eight readings each; zones Z2 and Z3 are busy. */
function occupancyCsv(date: string): string {
  const lines = ['zone,read_at,occupied'];
  for (const [z, zone] of ['Z1', 'Z2', 'Z3'].entries()) {
    for (let hour = 0; hour < 8; hour++) lines.push(`${zone},${date} ${String(6 + hour).padStart(2, '0')}:15:00,${(1 + z * 2 + (hour % 3) * 0.5).toFixed(1)}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('config SQL runs in a sandbox', () => {
  let root: string;
  let lake: FsLake;
  let store: Store;
  let config: DetourConfig;
  /** Files config SQL must never read or create, outside the lake. */
  let secretFile: string;
  const outside = (name: string) => path.join(root, name);
  const withAggregate = (aggregate: TablePipelineConfig['aggregate']): DetourConfig => ({
    ...config,
    pipelines: { ...config.pipelines, parking: { ...config.pipelines.parking, aggregate } },
  });
  const layoutOf = (date: string) => pipelineLayout('parking', config.pipelines.parking, date);

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'detour-sandbox-test-'));
    lake = new FsLake(path.join(root, 'lake'));
    store = await openStore({ stateDir: path.join(root, 'state') });
    config = parseConfigText(YAML, 'detour.yaml');
    secretFile = outside('secret.csv');
    await writeFile(secretFile, `secret\n${SECRET}\n`);
    for (const date of DATES) await lake.put(`bronze/occupancy/date=${date}/occupancy.csv`, occupancyCsv(date));
  });
  afterAll(async () => {
    await store.close();
  });

  it('runs a multi-step aggregate, later steps reading earlier ones, into the same gold bytes as an unsandboxed engine', async () => {
    const { summaries } = await runPipeline(lake, store, withAggregate(TWO_STEPS), 'parking', DATES);
    expect(summaries.map((summary) => summary.aggregates.map(({ name, rows }) => [name, rows]))).toEqual(DATES.map(() => [['zone_day', 3], ['busy_zones', 2]]));

    // The same SQL in the process's shared engine, as aggregates ran before the sandbox, written the same way.
    const engine = await openEngine();
    try {
      for (const date of DATES) {
        const layout = layoutOf(date);
        await engine.run(`SET VARIABLE silver_file = $1`, [lake.localPath(layout.silver) as string]);
        await engine.run(`CREATE OR REPLACE VIEW occupancy AS SELECT * FROM read_parquet(getvariable('silver_file'))`);
        for (const step of TWO_STEPS) {
          await engine.run(`CREATE OR REPLACE TABLE ${sqlIdentifier(step.name)} AS ${step.sql}`);
          const referenceKey = `reference/${step.name}/date=${date}/data.parquet`;
          await engine.exportQuery(`SELECT * FROM ${sqlIdentifier(step.name)} ORDER BY ALL`, lake, referenceKey, 'parquet');
          expect(await lake.get(layout.aggregate(step.name)), `${step.name} ${date}`).toEqual(await lake.get(referenceKey));
        }
      }
    } finally {
      await engine.close();
    }
  });

  const attacks: [attack: string, sql: (file: (name: string) => string, otherSilver: string) => string, message: RegExp, created?: string][] = [
    ['read_csv of a file', (file) => `SELECT * FROM read_csv('${file('secret.csv')}')`, /Permission Error: Cannot access file ".*secret\.csv"/],
    ['read_text of a file', (file) => `SELECT content FROM read_text('${file('secret.csv')}')`, /Permission Error: Cannot access file ".*secret\.csv"/],
    ['glob of a folder', () => `SELECT * FROM glob('/etc/*')`, /Permission Error: Cannot access file "\/etc\/\*"/],
    ['read_parquet of another date of the lake', (_, otherSilver) => `SELECT * FROM read_parquet('${otherSilver}')`, /Permission Error: Cannot access file ".*date=2024-03-02\/data\.parquet"/],
    ['COPY to a file', (file) => `COPY (SELECT * FROM occupancy) TO '${file('copied.csv')}'`, /Permission Error|only a query may run here, not COPY/, 'copied.csv'],
    ['a query followed by COPY', (file) => `SELECT 1 AS one; COPY (SELECT 1) TO '${file('copied.csv')}'`, /one query per step, found 2 statements/, 'copied.csv'],
    ['two queries', () => `SELECT 1 AS one; SELECT 2 AS two`, /one query per step, found 2 statements/],
    ['ATTACH of a new database', (file) => `ATTACH '${file('attached.duckdb')}' AS stolen`, /only a query may run here, not ATTACH/, 'attached.duckdb'],
    ['EXPORT DATABASE', (file) => `EXPORT DATABASE '${file('exported')}'`, /Permission Error|only a query may run here, not EXPORT/, 'exported'],
    ['INSTALL of an extension', () => `INSTALL httpfs`, /only a query may run here, not INSTALL or LOAD/],
    ['LOAD of an extension', () => `LOAD httpfs`, /only a query may run here, not INSTALL or LOAD/],
    ['SET of a setting', () => `SET enable_external_access = true`, /only a query may run here, not SET/],
    ['CREATE of a table', () => `CREATE TABLE kept AS SELECT 1 AS one`, /only a query may run here, not CREATE/],
  ];

  it.each(attacks)('refuses %s: exit-2 InputError naming the step, no retry, nothing read or written', async (_, sql, message, created) => {
    const goldBefore = (await lake.list('gold/')).map((object) => object.key);
    const otherSilver = lake.localPath(layoutOf(OTHER_DAY).silver) as string;
    expect(existsSync(otherSilver)).toBe(true);
    const attempt = runPipeline(lake, store, withAggregate([TWO_STEPS[0], { name: 'leak', sql: sql(outside, otherSilver) }]), 'parking', [DAY]);
    await expect(attempt).rejects.toBeInstanceOf(InputError);
    const error = (await attempt.catch((caught: unknown) => caught)) as Error;
    expect(error.message).toMatch(/^aggregate step leak: /);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET);

    const [failed] = await store.listRuns({ pipeline: 'parking', limit: 1 });
    expect(failed.status).toBe('failed');
    expect((await store.listSteps(failed.id)).find((step) => step.step === 'aggregate')).toMatchObject({ status: 'failed', attempts: 1 });
    // Nothing beyond what the legitimate run wrote (the first step of the day rewrites its own key).
    expect((await lake.list('gold/')).map((object) => object.key)).toEqual(goldBefore);
    if (created !== undefined) expect(existsSync(outside(created))).toBe(false);
  });
});
