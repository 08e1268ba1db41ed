import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const mainScript = path.join(projectRoot, 'src/cli/main.ts');
// tsx's loader by absolute URL, since the CLI runs in temp folders with no node_modules.
const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;
const fixture = (name: string) => path.join(projectRoot, 'test/fixtures', name);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (TypeScript source through tsx) in `cwd`, with LOG_LEVEL unset unless `env` sets it. */
async function detour(cwd: string, ...args: string[]): Promise<CliResult> {
  return detourWithEnv(cwd, {}, ...args);
}

async function detourWithEnv(cwd: string, env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const { LOG_LEVEL: _inherited, ...inherited } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', tsxLoader, mainScript, ...args], {
      cwd,
      env: { ...inherited, DATABASE_URL: '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

function parseCsv(text: string): Record<string, string>[] {
  const [header, ...lines] = text.trim().split('\n');
  const names = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i], value])));
}

describe('detour CLI', () => {
  let cwd: string;
  let lastRunId = 'none';
  beforeAll(async () => {
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-cli-'));
  });

  it('lists its commands', async () => {
    const result = await detour(cwd, '--help');
    expect(result.code).toBe(0);
    for (const command of ['demo', 'run', 'detect', 'sample', 'runs']) expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('detect dbscan labels every row like scikit-learn', async () => {
    const output = path.join(cwd, 'labelled.csv');
    const result = await detour(cwd, 'detect', 'dbscan', '--input', fixture('dbscan_2d_small.csv'), '--features', 'x,y', '--eps', '0.5', '--min-samples', '10', '--scale', 'none', '--output', output);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^wrote .*labelled\.csv: 2000 rows, \d+ clusters, \d+ outliers$/m);
    const rows = parseCsv(await readFile(output, 'utf8'));
    const input = parseCsv(await readFile(fixture('dbscan_2d_small.csv'), 'utf8'));
    expect(rows).toHaveLength(input.length);
    expect(Object.keys(rows[0])).toEqual([...Object.keys(input[0]), 'label']);
    rows.forEach((row, i) => {
      expect(row.x).toBe(input[i].x);
      expect(row.label).toBe(input[i].sklearn_label);
    });
  });

  it.each([
    ['a missing input file', ['--input', 'nope.csv', '--features', 'x,y', '--output', 'o.csv'], /^detour: --input nope\.csv: file not found$/],
    ['a missing column', ['--input', '@small', '--features', 'x,z', '--output', 'o.csv'], /^detour: --input .*dbscan_2d_small\.csv: no column z \(columns: x, y, sklearn_label, is_core, is_ambiguous_border\)$/],
    ['a non-numeric value', ['--input', '@bad', '--features', 'a,b', '--output', 'o.csv'], /^detour: --input .*bad\.csv: row 2: b is not a finite number \("oops"\)$/],
    ['a bad --eps', ['--input', '@small', '--features', 'x,y', '--eps', '-1', '--output', 'o.csv'], /--eps must be a positive number, got "-1"/],
    ['an unknown output format', ['--input', '@small', '--features', 'x,y', '--output', 'o.xlsx'], /^detour: --output o\.xlsx: expected a \.csv or \.parquet file$/],
  ])('detect dbscan exits 2 with one line for %s', async (_, args, message) => {
    await writeFile(path.join(cwd, 'bad.csv'), 'a,b\n1,2\n3,oops\n');
    const resolved = args.map((arg) => (arg === '@small' ? fixture('dbscan_2d_small.csv') : arg === '@bad' ? path.join(cwd, 'bad.csv') : arg));
    const result = await detour(cwd, 'detect', 'dbscan', ...resolved);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(message);
  });

  it('samples, runs a day, and lists and shows the run', async () => {
    const lake = path.join(cwd, 'my-lake');
    const sample = await detour(cwd, 'sample', 'rides', '--from', '2024-02-01', '--to', '2024-02-02', '--rides-per-day', '3000', '--format', 'csv', '--lake', lake);
    expect(sample.code).toBe(0);
    expect(sample.stdout).toContain('wrote 2 day(s) × 3000 rides');

    const run = await detour(cwd, 'run', 'rides', '--date', '2024-02-02', '--lake', lake);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/clean 2024-02-02 succeeded\n.*quality 2024-02-02 succeeded\n.*aggregate 2024-02-02 skipped\n(.*detect \d-(dbscan|conditional|pattern)-2024-02-02 succeeded\n){3}.*publish all succeeded/);
    expect(run.code).toBe(0);
    // Labelled sample rows: precision and recall of the published anomalies.
    expect(run.stdout).toMatch(/^date\s+rows\s+quarantined\s+anomalies\s+precision\s+recall$/m);
    expect(run.stdout).toMatch(/^2024-02-02\s+3,000\s+0\s+\d+\s+[\d.]+%\s+[\d.]+%$/m);
    expect(run.stdout).toMatch(/seconds by step: clean [\d.]+ · quality [\d.]+ · detect [\d.]+ · publish [\d.]+/);
    const runId = /^run (\S+) succeeded/m.exec(run.stdout)?.[1] as string;
    lastRunId = runId;
    const anomalies = JSON.parse(await readFile(path.join(lake, 'gold/ride_anomalies/date=2024-02-02/anomalies.json'), 'utf8')) as unknown[];
    expect(anomalies.length).toBeGreaterThan(0);

    const list = await detour(cwd, 'runs', '--lake', lake);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(runId);
    const show = await detour(cwd, 'runs', 'show', runId.slice(0, 20), '--lake', lake);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^status\s+succeeded$/m);
    expect(show.stdout).toMatch(/^detect\s+0-dbscan-2024-02-02\s+succeeded\s+1\s+[\d.]+$/m);
    const shown = JSON.parse((await detour(cwd, 'runs', 'show', runId, '--json', '--lake', lake)).stdout) as { steps: { step: string; status: string }[] };
    expect(shown).toMatchObject({ id: runId, pipeline: 'rides', logicalDate: '2024-02-02', endDate: '2024-02-02', status: 'succeeded', rowsRead: 3000 });
    expect(shown.steps.map((step) => `${step.step}:${step.status}`)).toEqual(['clean:succeeded', 'quality:succeeded', 'aggregate:skipped', 'detect:succeeded', 'detect:succeeded', 'detect:succeeded', 'publish:succeeded']);

    // Backfill skips the date that already succeeded, then reruns it on --force.
    const backfill = await detour(cwd, 'backfill', 'rides', '--from', '2024-02-01', '--to', '2024-02-02', '--parallel', '2', '--lake', lake);
    expect(backfill.code).toBe(0);
    expect(backfill.stderr).toBe('');
    expect(backfill.stdout).toMatch(/2024-02-02 skipped \(already succeeded/);
    expect(backfill.stdout).toMatch(/backfill rides 2024-02-01\.\.2024-02-02: 1 succeeded, 0 failed, 1 skipped/);
    const rerun = await detour(cwd, 'runs', 'rerun', runId, '--lake', lake);
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`rerun of ${runId}`);
    const missing = await detour(cwd, 'runs', 'show', 'no-such-run');
    expect(missing.code).toBe(2);
  }, 180_000);

  it.each([
    ['a bad date', ['run', 'rides', '--date', '2024-02-30'], /^detour: --date "2024-02-30" is not a calendar date$/],
    ['an unknown pipeline', ['run', 'taxis', '--date', '2024-02-01'], /^detour: unknown pipeline "taxis" \(available: rides, flights, traffic, weather, fleet\)$/],
    ['a missing partition', ['run', 'rides', '--date', '2023-01-01', '--lake', './empty-lake'], /no input: bronze\/rides\/date=2023-01-01\/ is missing or empty/],
    ['an unsupported lake URL', ['run', 'rides', '--date', '2024-02-01', '--lake', 'ftp://x'], /unsupported lake URL "ftp:\/\/x"/],
    ['a config error', ['run', 'rides', '--date', '2024-02-01', '--config', '@config'], /^detour: .*bad\.yaml:6: pipelines\.rides\.detect\.0\.epsilon: Unrecognized key: "epsilon"$/],
    ['a worker without a queue', ['worker'], /^detour: detour worker needs a distributed queue: set QUEUE_URL=redis:\/\/host:6379/],
    ['a distributed queue without PostgreSQL', ['run', 'rides', '--date', '2024-02-01', '--config', '@queue'], /^detour: a distributed queue \(QUEUE_URL\) needs a run store every process shares: set DATABASE_URL/],
    ['resuming a run that did not fail', ['runs', 'resume', '@last'], /only a failed run can be resumed/],
    ['an unknown option', ['run', 'rides', '--dat', '2024-02-01'], /^detour: unknown option '--dat' \(Did you mean --date\?\)$/],
    ['an unknown command', ['backfil', 'rides'], /^detour: unknown command 'backfil' \(Did you mean backfill\?\)$/],
    ['a traffic sample of no sensors', ['sample', 'traffic', '--sensors', '0'], /^detour: --sensors must be a whole number of at least 1, got "0"$/],
  ])('run exits 2 with exactly one line on stderr on %s', async (_, args, message) => {
    await writeFile(path.join(cwd, 'queue.yaml'), 'queue: { url: "redis://127.0.0.1:6379" }\n');
    await writeFile(path.join(cwd, 'bad.yaml'), 'pipelines:\n  rides:\n    dataset: rides\n    detect:\n      - detector: dbscan\n        epsilon: 1\n        table: rides\n        id: ride_id\n        features: [ride_dist_km]\n');
    const result = await detour(cwd, ...args.map((arg) => (arg === '@config' ? path.join(cwd, 'bad.yaml') : arg === '@queue' ? path.join(cwd, 'queue.yaml') : arg === '@last' ? lastRunId : arg)));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^detour: [^\n]+\n$/);
    expect(result.stderr.trim()).toMatch(message);
  });

  it('shows the failed step on stdout, and structured logs of the failure only when LOG_LEVEL asks', async () => {
    const quiet = await detour(cwd, 'run', 'rides', '--date', '2023-01-01', '--lake', './empty-lake');
    expect(quiet.code).toBe(2);
    expect(quiet.stdout).toMatch(/^\[1\/1\] clean 2023-01-01 failed: no input: /m);
    expect(quiet.stderr).toMatch(/^detour: no input: [^\n]+\n$/);

    const logged = await detourWithEnv(cwd, { LOG_LEVEL: 'info' }, 'run', 'rides', '--date', '2023-01-01', '--lake', './empty-lake');
    expect(logged.code).toBe(2);
    const lines = logged.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(/^detour: no input: /);
    const logs = lines.slice(0, -1).map((line) => JSON.parse(line) as { level: number; step: string; runId: string; msg: string });
    expect(logs).toContainEqual(expect.objectContaining({ level: 50, step: 'clean', msg: 'step failed', runId: expect.any(String) }));
  });

  it('ingest --partition-by lands a partition per date and reports them; --date and --partition-by exclude each other', async () => {
    const lake = path.join(cwd, 'ingest-lake');
    const csv = ['ride_id,pickup_ts', 'R1,2024-03-01 08:00', 'R2,2024-03-02 09:00', 'R3,2024-03-01 10:00', 'R4,2024-03-03 11:00'].join('\n');
    await writeFile(path.join(cwd, 'march.csv'), `${csv}\n`);
    const landed = await detour(cwd, 'ingest', 'rides', '--file', 'march.csv', '--partition-by', 'pickup_ts', '--lake', lake);
    expect(landed.stderr).toBe('');
    expect(landed.code).toBe(0);
    expect(landed.stdout).toMatch(/^landed march\.csv in file:\/\/.*\/bronze\/rides\/: 3 partitions 2024-03-01\.\.2024-03-03, 3 written, 0 unchanged \(same sha256\); 1–2 rows per partition, 4 in all$/m);
    expect(await readFile(path.join(lake, 'bronze/rides/date=2024-03-01/march.csv'), 'utf8')).toBe('ride_id,pickup_ts\nR1,2024-03-01 08:00\nR3,2024-03-01 10:00\n');
    const again = await detour(cwd, 'ingest', 'rides', '--file', 'march.csv', '--partition-by', 'pickup_ts', '--lake', lake);
    expect(again.stdout).toMatch(/3 partitions 2024-03-01\.\.2024-03-03, 0 written, 3 unchanged/);

    for (const args of [['--date', '2024-03-01', '--partition-by', 'pickup_ts'], []]) {
      const refused = await detour(cwd, 'ingest', 'rides', '--file', 'march.csv', ...args, '--lake', lake);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^detour: give (either )?--date [^\n]*--partition-by[^\n]*\n$/);
    }
  });

  it('sample fleet lands a day of rides per date through ingest, and refuses dates without weather in one line', async () => {
    const lake = path.join(cwd, 'fleet-lake');
    const landed = await detourWithEnv(cwd, { BUS_URL: '' }, 'sample', 'fleet', '--from', '2015-12-30', '--to', '2015-12-31', '--rides-per-day', '50', '--lake', lake);
    expect(landed.stderr).toBe('');
    expect(landed.stdout).toMatch(/^wrote 2 day\(s\) × 50 rides to file:\/\/.*\/bronze\/fleet_rides\/$/m);
    const rides = parseCsv(await readFile(path.join(lake, 'bronze/fleet_rides/date=2015-12-31/fleet-rides.csv'), 'utf8'));
    expect(rides).toHaveLength(50);
    expect(rides[0]).toMatchObject({ ride_id: 'F20151231-0000000', city: 'New York' });
    const manifest = JSON.parse(await readFile(path.join(lake, 'bronze/fleet_rides/date=2015-12-31/_manifest.json'), 'utf8')) as { file: string }[];
    expect(manifest.map((entry) => entry.file)).toEqual(['fleet-rides.csv']);

    const refused = await detour(cwd, 'sample', 'fleet', '--from', '2015-12-31', '--to', '2016-01-01', '--lake', lake);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('detour: the weather of New York is known from 2012-01-01 to 2015-12-31 (vega-datasets weather.csv), not for 2015-12-31..2016-01-01\n');
  });

  it('detect iforest scores every row, planted outliers highest', async () => {
    const output = path.join(cwd, 'scored.csv');
    const result = await detour(cwd, 'detect', 'iforest', '--input', fixture('iforest_2d.csv'), '--features', 'x,y', '--output', output);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^wrote .*scored\.csv: 3982 rows, \d+ outliers$/m);
    const rows = parseCsv(await readFile(output, 'utf8'));
    const input = parseCsv(await readFile(fixture('iforest_2d.csv'), 'utf8'));
    expect(rows).toHaveLength(input.length);
    expect(Object.keys(rows[0])).toEqual([...Object.keys(input[0]), 'score', 'label']);
    rows.forEach((row, i) => {
      expect(row.x).toBe(input[i].x);
      expect(['-1', '1']).toContain(row.label);
      // contamination 'auto': outliers are the rows scoring above 0.5 (before rounding).
      if (row.label === '-1') expect(Number(row.score)).toBeGreaterThanOrEqual(0.5);
      else expect(Number(row.score)).toBeLessThanOrEqual(0.5);
    });
    // As with sklearn: the very highest scores are planted outliers, and all of them score in the top 3%.
    const byScore = [...rows].sort((a, b) => Number(b.score) - Number(a.score));
    expect(byScore.slice(0, 5).map((row) => row.is_planted_outlier)).toEqual(['1', '1', '1', '1', '1']);
    const top3Percent = Number(byScore[Math.floor(0.03 * rows.length)].score);
    for (const row of rows.filter((candidate) => candidate.is_planted_outlier === '1')) {
      expect(Number(row.score)).toBeGreaterThan(top3Percent);
      expect(row.label).toBe('-1');
    }
  });

  it.each([
    ['a bad --contamination', ['--input', '@fixture', '--features', 'x,y', '--contamination', '0.7', '--output', 'o.csv'], /^detour: --contamination must be 'auto' or a number in \(0, 0\.5\], got "0\.7"$/],
    ['a bad --trees', ['--input', '@fixture', '--features', 'x,y', '--trees', '0', '--output', 'o.csv'], /^detour: --trees must be a whole number of at least 1, got "0"$/],
    ['a non-numeric value', ['--input', '@bad', '--features', 'a,b', '--output', 'o.csv'], /^detour: --input .*bad\.csv: row 2: b is not a finite number \("oops"\)$/],
  ])('detect iforest exits 2 with one line for %s', async (_, args, message) => {
    await writeFile(path.join(cwd, 'bad.csv'), 'a,b\n1,2\n3,oops\n');
    const resolved = args.map((arg) => (arg === '@fixture' ? fixture('iforest_2d.csv') : arg === '@bad' ? path.join(cwd, 'bad.csv') : arg));
    const result = await detour(cwd, 'detect', 'iforest', ...resolved);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(message);
  });
});

describe('detour env and --env', () => {
  it('creates, lists and destroys an environment; refuses a bad name and prod in one line, exit 2', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-cli-env-'));
    const badName = await detour(cwd, '--env', 'Bad', 'env', 'list');
    expect(badName.code).toBe(2);
    expect(badName.stderr).toBe('detour: --env "Bad" must be a lower_snake identifier (a-z, 0-9 and _, starting with a letter)\n');
    const prod = await detour(cwd, 'env', 'destroy', 'prod');
    expect(prod).toMatchObject({ code: 2, stderr: 'detour: refusing to destroy prod without --force\n' });

    expect((await detour(cwd, 'env', 'create', 'ci_1')).code).toBe(0);
    expect((await detour(cwd, 'env', 'list')).stdout).toBe('prod\nci_1\n');
    // A run in the environment looks for its input in the environment's lake folder.
    const run = await detourWithEnv(cwd, { DETOUR_ENV: 'ci_1' }, 'run', 'rides', '--date', '2024-03-01');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`bronze/rides/date=2024-03-01/ is missing or empty in ${pathToFileURL(path.join(cwd, 'lake/envs/ci_1')).href}`);
    const destroyed = await detour(cwd, 'env', 'destroy', 'ci_1');
    expect(destroyed.code).toBe(0);
    expect(destroyed.stdout).toMatch(/^destroyed environment ci_1: /);
    expect((await detour(cwd, 'env', 'list')).stdout).toBe('prod\n');
  }, 120_000);
});
