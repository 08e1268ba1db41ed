/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against `detour serve`
 * as a real process, over a lake and a PostgreSQL store filled by real runs: rides (one day that
 * succeeded, one that failed for want of input) and sensor traffic (a daily series, ARIMA, and an
 * Isolation Forest trained twice). Screenshots of every page go to test-artifacts/web/.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../bench/browser.js';
import { openApp } from '../../src/app/index.js';
import { loadConfig } from '../../src/config/index.js';
import { FsLake, partitionPrefix } from '../../src/lake/index.js';
import { runParamsOf, startRun, startTrainingRun, trainingParamsOf } from '../../src/pipeline/index.js';
import { writeSampleRides, writeSampleTraffic } from '../../src/sample/index.js';
import { fillWatchedPipeline, WATCHED, watchedPipelineConfig } from '../helpers/monitored.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startServe, type ServeProcess } from '../server/serve-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ARTIFACTS = path.join(root, 'test-artifacts/web');
const TOKENS = { read: 'read-token-0123456789', admin: 'admin-token-0123456789' };
const RIDE_DAY = '2024-03-04';
/** A rides date with no input, backfilled from the page. */
const NEXT_DAY = '2024-03-05';
/** A rides date with no input: its run fails in its clean step. */
const LATE_DAY = '2024-03-06';
const SENSOR_DAYS = Array.from({ length: 10 }, (_, i) => `2024-03-${String(i + 1).padStart(2, '0')}`);
const MODEL = 'sensor_if/sensor-01';
const LATE_FILE_HEADER = 'ride_id,taxi_id,pickup_ts,dropoff_ts,ride_dist_km,ride_time_min';

const CONFIG = `
lake: ./lake
datasets:
  sensor_traffic:
    columns: { sensor_id: { type: string }, ts: { type: timestamp }, bytes: { type: number, required: false } }
pipelines:
  sensors:
    dataset: sensor_traffic
    aggregate:
      - { name: sensor_daily, sql: "SELECT sensor_id, CAST(ts AS DATE) AS day, sum(bytes) AS total_bytes FROM sensor_traffic GROUP BY ALL" }
    detect:
      - { detector: arima, table: sensor_daily, entity: sensor_id, time: day, value: total_bytes, history: 10, minHistory: 5 }
    train:
      - { model: sensor_if, detector: iforest, table: sensor_traffic, entity: sensor_id, time: ts, value: bytes, history: 3, minRows: 1000, params: { trees: 30 }, promote: auto }
  ${WATCHED.pipeline}: ${JSON.stringify(watchedPipelineConfig())}
`;

/** What the test reads of the scatter's canvas in the page (the DOM's types are not this project's). */
interface PlotCanvas {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray } };
  getBoundingClientRect(): { width: number };
}

/** `detour <args>` as a real process in `cwd`. */
async function detour(cwd: string, env: Record<string, string>, ...args: string[]): Promise<string> {
  const loader = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', loader, path.join(root, 'src/cli/main.ts'), ...args], { cwd, env: { ...process.env, QUEUE_URL: '', ...env } });
  return stdout;
}

describe('the dashboard', () => {
  let cwd: string;
  let database: TestDatabase;
  let serve: ServeProcess;
  let browser: Browser;
  let failedRunId: string;
  const consoleErrors: string[] = [];

  /** A page signed in with `token`, console errors and failed requests collected. */
  async function signedIn(token: string, options: { width?: number; height?: number; theme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 800 }, colorScheme: options.theme ?? 'light' });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
    });
    page.on('pageerror', (error) => consoleErrors.push(`${page.url()}: ${error.message}`));
    await page.goto(serve.url);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'pages' }).waitFor();
    return { context, page };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    // The app as the package ships it: built from these sources.
    execFileSync(process.execPath, [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: root });
    await mkdir(ARTIFACTS, { recursive: true });
    cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-web-'));
    database = await createTestDatabase();
    await writeFile(path.join(cwd, 'detour.yaml'), CONFIG);
    const lake = new FsLake(path.join(cwd, 'lake'));
    await writeSampleRides(lake, { from: RIDE_DAY, to: RIDE_DAY, ridesPerDay: 2_000, seed: 1, format: 'parquet' });
    // A late file with two rows the rides dataset rejects: a negative distance, a missing id.
    await lake.put(`${partitionPrefix('bronze', 'rides', RIDE_DAY)}late.csv`, `${LATE_FILE_HEADER}\nL1,T1,${RIDE_DAY}T08:00:00Z,${RIDE_DAY}T08:10:00Z,-3,10\n,T2,${RIDE_DAY}T09:00:00Z,${RIDE_DAY}T09:20:00Z,4,20\n`);
    await writeSampleTraffic(lake, { sensors: 2, days: SENSOR_DAYS.length, from: SENSOR_DAYS[0], seed: 3, dataset: 'sensor_traffic' });
    const { config } = await loadConfig({ file: path.join(cwd, 'detour.yaml'), env: { DATABASE_URL: database.url } });
    const app = await openApp({ config, baseDir: cwd });
    try {
      const services = await app.services();
      await startRun(services, 'rides', runParamsOf(config, 'rides'), [RIDE_DAY]);
      await startRun(services, 'rides', runParamsOf(config, 'rides'), [LATE_DAY]).catch(() => undefined);
      [{ id: failedRunId }] = await app.store.listRuns({ pipeline: 'rides', status: 'failed' });
      await startRun(services, 'sensors', runParamsOf(config, 'sensors'), SENSOR_DAYS);
      for (const day of SENSOR_DAYS.slice(-2)) await startTrainingRun(services, 'sensors', trainingParamsOf(config, 'sensors'), day);
      await fillWatchedPipeline(lake, services, config);
    } finally {
      await app.close();
    }
    serve = await startServe(cwd, ['--no-schedules', '--processes', '1'], { DATABASE_URL: database.url, DETOUR_API_TOKENS: `${TOKENS.read}:read,${TOKENS.admin}:admin` });
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    expect(await serve?.stop()).toBe(0);
    await database?.drop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('loads every page without a console error, at 1280×800 and phone width, light and dark', async () => {
    for (const [label, options] of [
      ['desktop', {}],
      ['phone-dark', { width: 390, height: 844, theme: 'dark' as const }],
    ] as const) {
      const { context, page } = await signedIn(TOKENS.admin, options);
      for (const [name, heading, ready] of [
        ['runs', 'Runs', 'table.runs tbody tr'],
        ['anomalies', 'Anomalies', 'canvas.scatter[data-drawn]'],
        ['quality', 'Data quality', '.calendar-day.day-pass, .calendar-day.day-warn'],
        ['models', 'Models', 'section.model'],
        ['monitoring', 'Monitoring', 'section.monitoring-alarms'],
      ] as const) {
        await page.getByRole('link', { name: heading, exact: true }).click();
        await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
        await page.locator(ready).first().waitFor();
        expect(new URL(page.url()).searchParams.get('page')).toBe(name);
        await shot(page, `${name}-${label}`);
      }
      await context.close();
    }
    expect(consoleErrors).toEqual([]);
  });

  it("shows a failed run's failed step and its error, and the run's inputs with their hashes", async () => {
    const { context, page } = await signedIn(TOKENS.admin);
    await page.goto(`${serve.url}/?page=runs&status=failed`);
    await page.getByRole('link', { name: failedRunId }).click();
    const detail = page.getByRole('region', { name: `run ${failedRunId}` });
    await expect.poll(() => detail.locator('.step-error').first().textContent()).toMatch(/^clean .*failed after 1 attempt/);
    expect(await detail.locator('.step-error').first().textContent()).toContain(LATE_DAY);
    expect(await detail.locator('.timeline .step-failed').count()).toBeGreaterThan(0);
    await expect.poll(() => detail.getByRole('button', { name: 'Resume' }).count()).toBe(1);
    await shot(page, 'run-failed');
    // A shared URL opens the same view.
    expect(new URL(page.url()).searchParams.get('run')).toBe(failedRunId);

    await page.goto(`${serve.url}/?page=runs&pipeline=rides&status=succeeded`);
    await page.locator('table.runs tbody a').first().click();
    const inputs = page.locator('.run-detail td.hash');
    await inputs.first().waitFor();
    expect(await inputs.count()).toBe(2);
    expect(await inputs.first().getAttribute('title')).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.locator('.run-detail .timeline .step-succeeded').count()).toBeGreaterThan(3);
    await context.close();
    expect(consoleErrors).toEqual([]);
  });

  it('shows the reason of a flagged ride clicked on the scatter', async () => {
    const { context, page } = await signedIn(TOKENS.read);
    await page.goto(`${serve.url}/?page=anomalies&pipeline=rides&date=${RIDE_DAY}`);
    const canvas = page.locator('canvas.scatter[data-drawn]');
    await canvas.waitFor();
    // Where the plot drew a flagged ride: a pixel in the first detector's colour.
    const spot = await canvas.evaluate((element: PlotCanvas) => {
      const context = element.getContext('2d');
      const { width, height } = element;
      const pixels = context.getImageData(0, 0, width, height).data;
      const ratio = width / element.getBoundingClientRect().width;
      for (let i = 0; i < pixels.length; i += 4) {
        if (Math.abs(pixels[i] - 0xe4) < 8 && Math.abs(pixels[i + 1] - 0x57) < 8 && Math.abs(pixels[i + 2] - 0x2e) < 8) {
          return { x: ((i / 4) % width) / ratio, y: Math.floor(i / 4 / width) / ratio };
        }
      }
      return undefined;
    });
    expect(spot).toBeDefined();
    await canvas.click({ position: { x: spot!.x + 1, y: spot!.y + 1 } });
    const card = page.locator('.selected-record');
    await card.waitFor();
    const ride = new URL(page.url()).searchParams.get('ride');
    expect(ride).not.toBeNull();
    const reason = await page.locator(`#flag-${ride} td.reason`).textContent();
    expect(reason?.length).toBeGreaterThan(10);
    expect(await card.textContent()).toContain(reason);
    expect(await page.locator(`#flag-${ride}`).getAttribute('class')).toBe('selected');
    await shot(page, 'anomalies-ride-selected');

    // From the keyboard: the arrow keys walk the flagged rides in the table's order.
    await canvas.focus();
    await page.keyboard.press('Escape');
    await page.keyboard.press('ArrowRight');
    const firstRow = await page.locator('table.flagged tbody tr').first().getAttribute('id');
    await expect.poll(() => `flag-${new URL(page.url()).searchParams.get('ride')}`).toBe(firstRow);
    await context.close();
    expect(consoleErrors).toEqual([]);
  });

  it("shows an entity's series with the expected value and band", async () => {
    const { context, page } = await signedIn(TOKENS.read);
    const answered = page.waitForResponse((response) => new URL(response.url()).pathname === '/v1/series');
    await page.goto(`${serve.url}/?page=anomalies&pipeline=sensors&entity=sensor-02`);
    const series = (await (await answered).json()) as { points: { lower: number | null; upper: number | null; expected: number | null }[] };
    const banded = series.points.filter((point) => point.lower !== null && point.upper !== null && point.expected !== null);
    expect(banded.length).toBeGreaterThanOrEqual(3);
    await page.getByRole('heading', { name: /^sensor-02: total_bytes/ }).waitFor();
    expect(await page.locator('.band-source').textContent()).toMatch(/^ARIMA fitted on the series shown/);
    expect(await page.locator('.u-legend').textContent()).toMatch(/expected.*lower.*upper/s);
    await shot(page, 'anomalies-series');
    await context.close();
    expect(consoleErrors).toEqual([]);
  });

  it("shows a day's expectation results, its quarantine count by reason and the quarantined rows", async () => {
    const { context, page } = await signedIn(TOKENS.read);
    await page.goto(`${serve.url}/?page=quality&dataset=rides`);
    await page.getByRole('gridcell', { name: `${RIDE_DAY}: pass` }).click();
    const day = page.getByRole('region', { name: `quality of ${RIDE_DAY}` });
    await day.getByText('2 rows quarantined.').waitFor();
    expect(await day.locator('tbody tr', { hasText: 'row count' }).count()).toBe(1);
    expect(await day.locator('ul.reasons li').count()).toBeGreaterThanOrEqual(1);
    const sample = day.locator('table.sample');
    expect(await sample.locator('tbody tr').count()).toBe(2);
    expect(await sample.locator('thead').textContent()).toContain('_reason');
    expect(await sample.locator('tbody').textContent()).toContain('-3');
    expect(new URL(page.url()).searchParams.get('day')).toBe(RIDE_DAY);
    await shot(page, 'quality-day');
    await context.close();
    expect(consoleErrors).toEqual([]);
  });

  it('promotes a model version from the page, as `detour models list` then sees it, and rolls it back', async () => {
    const env = { DATABASE_URL: database.url };
    const before = await detour(cwd, env, 'models', 'list', '--name', MODEL);
    expect(before).toMatch(new RegExp(`^${MODEL} +2 `, 'm'));
    const { context, page } = await signedIn(TOKENS.admin);
    await page.goto(`${serve.url}/?page=models&name=${encodeURIComponent(MODEL)}`);
    const model = page.getByRole('region', { name: `model ${MODEL}` });
    const stageOf = (version: number) => model.locator(`tr[data-version="${version}"] .badge`).textContent();
    const target = (await stageOf(1)) === 'production' ? 2 : 1;
    await model.getByRole('button', { name: `Promote v${target}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => stageOf(target)).toBe('production');
    await shot(page, 'models-promoted');
    const after = await detour(cwd, env, 'models', 'list', '--name', MODEL);
    expect(after).toMatch(new RegExp(`^${MODEL} +${target} +production `, 'm'));

    await model.getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => stageOf(3 - target)).toBe('production');
    expect(await stageOf(target)).not.toBe('production');
    await context.close();
    expect(consoleErrors).toEqual([]);
  });

  it("shows a watched model's performance per day against the ground truth, its drift with the threshold, and its alarms", async () => {
    const { context, page } = await signedIn(TOKENS.read);
    await page.goto(`${serve.url}/?page=monitoring&pipeline=${WATCHED.pipeline}`);
    const performance = page.getByRole('region', { name: 'performance' });
    await performance.locator('table.performance tbody tr').first().waitFor();
    expect(await performance.locator('table.performance tbody td:first-child').allTextContents()).toEqual(WATCHED.predicted);
    // Every day's AUC is below the configured minimum: marked in the table, the threshold drawn.
    expect(await performance.locator('td.below').count()).toBe(WATCHED.predicted.length);
    expect(await performance.locator('.u-legend').textContent()).toMatch(/AUC.*log loss.*min AUC/s);
    const drift = page.getByRole('region', { name: 'drift' });
    expect(await drift.locator('.u-legend').textContent()).toMatch(/temperature.*threshold \(PSI\)/s);
    expect(await drift.locator('.u-legend').textContent()).toMatch(/score/);
    expect(await drift.locator('.threshold').textContent()).toContain(`PSI > ${WATCHED.psi}`);
    const alarms = page.getByRole('region', { name: 'alarms' });
    expect(await alarms.locator('tr[data-alarm="performance"] .badge').textContent()).toBe('firing');
    expect(await alarms.locator('tr[data-alarm="run_failed"] .badge').textContent()).toBe('resolved');
    expect(await alarms.locator('tr[data-alarm="run_failed"] td').nth(2).textContent()).toBe(WATCHED.predicted[0]);
    await shot(page, 'monitoring-watched');

    // KS instead of PSI, kept in the URL: no KS threshold is configured, so PSI alone decides.
    await drift.getByLabel('Statistic').selectOption('ks');
    await expect.poll(() => new URL(page.url()).searchParams.get('stat')).toBe('ks');
    expect(await drift.locator('.threshold').textContent()).toContain('no KS threshold');
    await context.close();

    const phone = await signedIn(TOKENS.read, { width: 390, height: 844, theme: 'dark' });
    await phone.page.goto(`${serve.url}/?page=monitoring&pipeline=${WATCHED.pipeline}&stat=ks`);
    await phone.page.locator('table.alarms tbody tr').first().waitFor();
    await phone.page.locator('.monitoring-drift .u-legend').waitFor();
    await shot(phone.page, 'monitoring-watched-phone-dark');
    await phone.context.close();
    expect(consoleErrors).toEqual([]);
  });

  it('backfills from the page: a run for each date of the range no succeeded run covers', async () => {
    const { context, page } = await signedIn(TOKENS.admin);
    await page.goto(`${serve.url}/?page=runs&pipeline=rides`);
    const start = page.getByRole('group', { name: 'Start runs' });
    await start.getByLabel('Pipeline').selectOption('rides');
    await start.getByLabel('from').fill(RIDE_DAY);
    await start.getByLabel('to').fill(NEXT_DAY);
    await start.getByRole('button', { name: 'Backfill' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    expect(await start.getByRole('status').textContent()).toBe('1 run starting, 1 date already done');
    // The new run (no input that day: it fails) appears in the list once it has started.
    await expect.poll(async () => page.locator('table.runs tbody tr', { hasText: NEXT_DAY }).count(), { timeout: 20_000 }).toBe(1);
    await context.close();
    expect(consoleErrors).toEqual([]);
  });

  it('shows a read-only token no admin button', async () => {
    const { context, page } = await signedIn(TOKENS.read);
    await page.goto(`${serve.url}/?page=runs&run=${failedRunId}`);
    await page.locator('.step-error').first().waitFor();
    await page.goto(`${serve.url}/?page=models`);
    await page.locator('section.model').first().waitFor();
    expect(await page.locator('button.admin').count()).toBe(0);
    await page.goto(`${serve.url}/?page=runs&run=${failedRunId}`);
    await page.locator('.step-error').first().waitFor();
    expect(await page.locator('button.admin').count()).toBe(0);
    expect(await page.getByRole('button', { name: /^(Resume|Rerun|Run|Backfill|Promote v\d+|Roll back)$/ }).count()).toBe(0);
    await shot(page, 'runs-read-only');
    await context.close();
    expect(consoleErrors).toEqual([]);
  });
});
