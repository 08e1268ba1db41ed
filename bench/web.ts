/**
 * The dashboard in Chromium against `detour serve` of the built package (PostgreSQL store):
 *
 * - `runs-page`: 10,000 runs in the store; from opening `?page=runs` (signed in) until its table
 *   shows the newest page of runs (`seconds`, as the bench sees it); `shown_ms`: from the
 *   navigation's start to the list first showing runs, as the page measures it; `api_ms`: its
 *   `/v1/runs` request alone.
 * - `rides-scatter`: a day of 100,000 rides run through the rides pipeline; from opening the
 *   anomalies page on that day until the scatter is drawn (`seconds`); `draw_ms` is the canvas
 *   drawing alone, as the page measures it (`performance.measure('scatter-draw')`), `api_ms` the
 *   page's `/v1/records` request, `first_api_ms` the server's first one (which loads DuckDB).
 * - `bundle`: the built app's JavaScript, gzipped (`js_gzip_kb`); `rows` is its file count.
 */
import { readdir, readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { openApp } from '../src/app/index.js';
import { loadConfig } from '../src/config/index.js';
import { addDays } from '../src/dates.js';
import { FsLake } from '../src/lake/index.js';
import { runParamsOf, startRun } from '../src/pipeline/index.js';
import { writeSampleRides } from '../src/sample/index.js';
import { launchChromium } from './browser.js';
import type { BenchCase } from './main.js';
import { freshDatabase, startServe, type Server } from './services.js';

const TOKEN = 'bench-admin-token-0123456789';
const RUNS = 10_000;
const RIDES = 100_000;
const DAY = '2024-03-04';
/** Runs recorded at once while filling the store. */
const PARALLEL_WRITES = 8;
const WEB_ASSETS = fileURLToPath(new URL('../web/assets/', import.meta.url));

interface Dashboard {
  server: Server;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** A fresh database and lake filled by `seed`, `detour serve` over them and a signed-in Chromium page. */
async function dashboard(seed: (cwd: string, databaseUrl: string) => Promise<void>): Promise<Dashboard> {
  const database = await freshDatabase();
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-web-'));
  await writeFile(path.join(cwd, 'detour.yaml'), 'lake: ./lake\n');
  await seed(cwd, database.url);
  const server = await startServe(cwd, { DATABASE_URL: database.url, DETOUR_API_TOKENS: `${TOKEN}:admin` }, 1);
  const browser = await launchChromium();
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  await page.goto(server.url);
  await page.getByLabel('API token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'pages' }).waitFor();
  return {
    server,
    browser,
    page,
    close: async () => {
      await browser.close();
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
      await rm(cwd, { recursive: true, force: true });
      await database.drop();
    },
  };
}

/** How long the page's last request to `route` took, request to last byte, as the browser timed it. */
async function apiMilliseconds(page: Page, route: string): Promise<number | null> {
  const durations = await page.evaluate((path) => performance.getEntriesByType('resource').filter((entry) => new URL(entry.name).pathname === path).map((entry) => entry.duration), route);
  const last = durations.at(-1);
  return last === undefined ? null : Math.round(last);
}

async function openedApp(cwd: string, databaseUrl: string) {
  const { config } = await loadConfig({ file: path.join(cwd, 'detour.yaml'), env: { DATABASE_URL: databaseUrl } });
  return { config, app: await openApp({ config, baseDir: cwd }) };
}

/** `RUNS` finished runs of rides, one per day going back, a few failed. */
async function recordRuns(cwd: string, databaseUrl: string): Promise<void> {
  const { config, app } = await openedApp(cwd, databaseUrl);
  try {
    const params = runParamsOf(config, 'rides') as unknown as Record<string, unknown>;
    let next = 0;
    const lane = async () => {
      while (next < RUNS) {
        const index = next++;
        const run = await app.store.startRun({ pipeline: 'rides', logicalDate: addDays(DAY, -index), params, lease: { owner: 'bench:0', seconds: 600 } });
        await app.store.finishRun(run.id, index % 50 === 0 ? { status: 'failed', error: 'no input: bench' } : { status: 'succeeded', rowsRead: 1_000, rowsQuarantined: 0, outliers: 3 });
      }
    };
    await Promise.all(Array.from({ length: PARALLEL_WRITES }, lane));
  } finally {
    await app.close();
  }
}

/** A day of `RIDES` rides through the rides pipeline: silver records and published anomalies. */
async function runRidesDay(cwd: string, databaseUrl: string): Promise<void> {
  await writeSampleRides(new FsLake(path.join(cwd, 'lake')), { from: DAY, to: DAY, ridesPerDay: RIDES, seed: 42, format: 'parquet' });
  const { config, app } = await openedApp(cwd, databaseUrl);
  try {
    await startRun(await app.services(), 'rides', runParamsOf(config, 'rides'), [DAY]);
  } finally {
    await app.close();
  }
}

/** The dashboard a case's prepare opened (each case runs in a process of its own), closed after the timing. */
let opened: Dashboard | undefined;

export const cases: readonly BenchCase[] = [
  {
    rows: RUNS,
    label: 'runs-page',
    async prepare() {
      const { server, page } = (opened = await dashboard(recordRuns));
      return async () => {
        await page.goto(`${server.url}/?page=runs`);
        await page.locator('table.runs tbody tr').nth(99).waitFor();
        const shownMs = await page.evaluate(() => performance.getEntriesByName('runs-shown').at(-1)?.startTime ?? null);
        return { shownMs, apiMs: await apiMilliseconds(page, '/v1/runs') };
      };
    },
    cleanup: () => opened?.close() ?? Promise.resolve(),
    report: (result) => {
      const { shownMs, apiMs } = result as { shownMs: number | null; apiMs: number | null };
      return { shown_ms: shownMs === null ? null : Math.round(shownMs), api_ms: apiMs };
    },
  },
  {
    rows: RIDES,
    label: 'rides-scatter',
    async prepare() {
      const { server, page } = (opened = await dashboard(runRidesDay));
      // The server's first read of a day also loads DuckDB into it: timed apart, so the case measures what every later visit costs.
      const coldStart = performance.now();
      const cold = await fetch(`${server.url}/v1/records?pipeline=rides&date=${DAY}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      await cold.arrayBuffer();
      const coldApiMs = Math.round(performance.now() - coldStart);
      return async () => {
        await page.goto(`${server.url}/?page=anomalies&pipeline=rides&date=${DAY}`);
        await page.locator(`canvas.scatter[data-drawn="${RIDES}"]`).waitFor({ timeout: 60_000 });
        const drawMs = await page.evaluate(() => performance.getEntriesByName('scatter-draw').at(-1)?.duration ?? null);
        return { drawMs, apiMs: await apiMilliseconds(page, '/v1/records'), coldApiMs };
      };
    },
    cleanup: () => opened?.close() ?? Promise.resolve(),
    report: (result) => {
      const { drawMs, apiMs, coldApiMs } = result as { drawMs: number | null; apiMs: number | null; coldApiMs: number };
      return { draw_ms: drawMs === null ? null : Math.round(drawMs), api_ms: apiMs, first_api_ms: coldApiMs };
    },
  },
  {
    rows: 0,
    label: 'bundle',
    async prepare() {
      return async () => {
        const scripts = (await readdir(WEB_ASSETS)).filter((name) => name.endsWith('.js'));
        const gzipped = await Promise.all(scripts.map(async (name) => gzipSync(await readFile(path.join(WEB_ASSETS, name))).length));
        return { files: scripts.length, bytes: gzipped.reduce((sum, size) => sum + size, 0) };
      };
    },
    report: (result) => {
      const { files, bytes } = result as { files: number; bytes: number };
      return { files, js_gzip_kb: Number((bytes / 1024).toFixed(1)) };
    },
  },
];
