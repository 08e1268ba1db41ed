import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetourConfigSchema, type DetourConfig } from '../../src/config/index.js';
import { addDays, dateRange } from '../../src/dates.js';
import { openEngine, type Engine } from '../../src/engine/index.js';
import type { FsLake } from '../../src/lake/index.js';
import { ingestFile, ingestPartitionedFile, runParamsOf, startRun, startTrainingRun, trainingParamsOf, type RunServices } from '../../src/pipeline/index.js';
import { weatherCsvPath, writeSampleFleetFiles } from '../../src/sample/index.js';
import type { Store } from '../../src/store/index.js';
import { openTempServices } from '../helpers/pipeline.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tsxLoader = pathToFileURL(path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')).href;

/** The real CLI in `cwd`, on embedded PGlite. */
async function detour(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { LOG_LEVEL: _inherited, ...env } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', tsxLoader, path.join(projectRoot, 'src/cli/main.ts'), ...args], { cwd, env: { ...env, DATABASE_URL: '', QUEUE_URL: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

/** Alarm messages a local webhook receiver and a real SMTP server (smtp-server) got, in order. */
interface Received {
  webhook: string[];
  email: string[];
}

async function listen(server: Server | SMTPServer): Promise<number> {
  const listening = server instanceof SMTPServer ? server.server : server;
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', () => resolve()));
  return (listening.address() as AddressInfo).port;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  const port = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function webhookReceiver(received: Received): Server {
  return createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.webhook.push((JSON.parse(body) as { text: string }).text);
      response.end('ok');
    });
  });
}

function smtpReceiver(received: Received): SMTPServer {
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        received.email.push(/^Subject: (.*)$/m.exec(raw)?.[1] ?? '(no subject)');
        callback();
      });
    },
  });
}

/** detour.yaml's content (JSON is YAML) with the built-in fleet pipeline as `watched`: two weeks of training, drift of temperature over two weeks, alarms to the test's receivers. */
function watchedConfig(webhookPort: number, smtpPort: number, closedPort: number): Record<string, unknown> {
  const { pipelines } = DetourConfigSchema.parse({});
  const { fleet } = pipelines;
  return {
    pipelines: {
      watched: {
        ...fleet,
        trigger: 'schedule',
        train: [{ ...fleet.train[0], model: 'watched_service', history: 14, minRows: 300, schedule: undefined }],
        predict: { ...fleet.predict, model: 'watched_service' },
        monitor: {
          actuals: { table: 'ride_features', id: 'ride_id', label: 'service_requested' },
          // The weather is one value a day: over two weeks of days KS separates a shifted week from July's own warmth, where PSI of so few values does not.
          drift: { windowDays: 14, features: ['temperature'], psi: 100, ks: 0.45 },
          alarms: {
            webhook: `http://127.0.0.1:${webhookPort}/hooks/alarms`,
            email: { smtp: `smtp://127.0.0.1:${smtpPort}`, from: 'detour@example.com', to: ['oncall@example.com'], retries: 1, initialDelayMs: 10, maxDelayMs: 20 },
          },
        },
        chunkDays: 31,
      },
      // The same model's predictions, whose ground truth lands days later as a dataset of its own.
      late: {
        dataset: 'fleet_rides',
        join: fleet.join,
        aggregate: fleet.aggregate,
        predict: { ...fleet.predict, model: 'watched_service' },
        monitor: { actuals: { table: 'fleet_outcomes', id: 'ride_id', label: 'service_requested', lookbackDays: 3 } },
      },
      outcomes: { dataset: 'fleet_outcomes' },
      // Its alarms go to an SMTP server nobody runs.
      unmailed: { dataset: 'fleet_outcomes', monitor: { alarms: { email: { smtp: `smtp://127.0.0.1:${closedPort}`, from: 'detour@example.com', to: ['oncall@example.com'], retries: 2, initialDelayMs: 10, maxDelayMs: 20 } } } },
    },
    datasets: { fleet_outcomes: { columns: { ride_id: { type: 'string' }, service_requested: { type: 'number', values: [0, 1] } }, key: 'ride_id' } },
  };
}

const TRAINING = dateRange('2014-06-17', '2014-06-30');
const WATCHED = dateRange('2014-07-01', '2014-07-31');
/** New York's temperatures of these days are raised by 8 °C. */
const SHIFTED = dateRange('2014-07-08', '2014-07-14');

describe('monitor: a covariate shift fires a drift alarm by webhook and email once, and resolves it', () => {
  const received: Received = { webhook: [], email: [] };
  let webhook: Server;
  let smtp: SMTPServer;
  let configInput: Record<string, unknown>;
  let config: DetourConfig;
  let lake: FsLake;
  let store: Store;
  let services: RunServices;
  let engine: Engine;
  let folder: string;
  const run = (dates: string[]) => startRun(services, 'watched', runParamsOf(config, 'watched'), dates);

  beforeAll(async () => {
    webhook = webhookReceiver(received);
    smtp = smtpReceiver(received);
    configInput = watchedConfig(await listen(webhook), await listen(smtp), await closedPort());
    config = DetourConfigSchema.parse(configInput);
    ({ lake, store, services } = await openTempServices('detour-monitor-', { concurrency: 2 }));
    engine = await openEngine();
    folder = await mkdtemp(path.join(os.tmpdir(), 'detour-monitor-files-'));
    // The real weather, New York's maximum temperature 8 °C warmer on the shifted days.
    const weather = (await readFile(weatherCsvPath(), 'utf8'))
      .split('\n')
      .map((line) => {
        const fields = line.split(',');
        if (fields[0] !== 'New York' || !SHIFTED.includes(fields[1])) return line;
        fields[3] = String(Number(fields[3]) + 8);
        return fields.join(',');
      })
      .join('\n');
    const weatherFile = path.join(folder, 'weather.csv');
    await writeFile(weatherFile, weather);
    await ingestPartitionedFile(lake, { dataset: 'weather', file: weatherFile, partitionBy: 'date' });
    await startRun(services, 'weather', runParamsOf(config, 'weather'), dateRange(TRAINING[0], WATCHED.at(-1) as string));
    await writeSampleFleetFiles(engine, folder, { from: TRAINING[0], to: WATCHED.at(-1) as string, ridesPerDay: 200, seed: 7 }, async (logicalDate, file) => {
      await ingestFile(lake, { dataset: 'fleet_rides', file, logicalDate });
    });
    await run(TRAINING);
    await startTrainingRun(services, 'watched', trainingParamsOf(config, 'watched'), TRAINING.at(-1) as string);
    // The training days scored too: the first watched days' windows are full.
    await run(TRAINING);
    await run(WATCHED);
  }, 600_000);
  afterAll(async () => {
    await engine?.close();
    await services?.queue.close();
    await store?.close();
    webhook?.close();
    await new Promise<void>((resolve) => (smtp ? smtp.close(() => resolve()) : resolve()));
  });

  it('stores the temperature drift of each day against the training weeks, rising with the shift', async () => {
    const { drift } = await store.listMonitoring('watched', TRAINING[0], WATCHED.at(-1) as string);
    const ks = new Map(drift.filter((row) => row.feature === 'temperature').map((row) => [row.date, row.ks as number]));
    expect([...ks.keys()]).toEqual(dateRange(TRAINING.at(-1) as string, WATCHED.at(-1) as string));
    expect(ks.get('2014-07-07')).toBeLessThan(0.45);
    expect(ks.get('2014-07-14')).toBeGreaterThan(0.55);
    expect(ks.get('2014-07-31')).toBeLessThan(0.45);
    expect(drift.some((row) => row.feature === 'score')).toBe(true);
  });

  it('sends the drift alarm exactly once by webhook and by email, and once that it resolved', () => {
    expect(received.webhook).toEqual([
      expect.stringMatching(/^:rotating_light: detour watched 2014-07-13: alarm drift firing: .*temperature \(watched_service v1\) KS 0\.517 &gt; 0\.45/),
      expect.stringMatching(/^:white_check_mark: detour watched 2014-07-22: alarm drift resolved: no drift over 14 days/),
    ]);
    expect(received.email).toEqual(['[FIRING] detour watched 2014-07-13: alarm drift firing', '[RESOLVED] detour watched 2014-07-22: alarm drift resolved']);
  });

  it('records the alarm\'s state, and each day\'s performance against the rides\' own outcomes', async () => {
    expect(await store.listAlarms('watched')).toEqual([expect.objectContaining({ alarm: 'drift', state: 'resolved', date: '2014-07-22' })]);
    const { performance, days } = await store.listMonitoring('watched', '2014-07-01', '2014-07-01');
    expect(performance).toEqual([expect.objectContaining({ date: '2014-07-01', model: { name: 'watched_service', version: 1 }, predictions: 200, matched: 200 })]);
    expect(performance[0].auc).toBeGreaterThan(0.5);
    expect(days).toEqual([expect.objectContaining({ date: '2014-07-01', actuals: 200, unmatchedActuals: 0, flagged: 0 })]);
  });

  it('updates a day\'s performance when its ground truth arrives two days late, and counts actuals of rides never predicted', async () => {
    const predicted = '2014-07-01';
    const arrived = addDays(predicted, 2);
    const late = (dates: string[]) => startRun(services, 'late', runParamsOf(config, 'late'), dates);
    await late([predicted]);
    expect((await store.listMonitoring('late', predicted, predicted)).performance).toEqual([expect.objectContaining({ date: predicted, predictions: 200, matched: 0, auc: null })]);
    // The day's outcomes, and five of rides no prediction ever saw, land with the partition of two days later.
    const rides = (await readFile(path.join(folder, predicted, 'fleet-rides.csv'), 'utf8')).trim().split('\n').slice(1).map((line) => line.split(','));
    const outcomes = ['ride_id,service_requested', ...rides.map((fields) => `${fields[0]},${fields[7]}`), ...[1, 2, 3, 4, 5].map((k) => `NEVER-${k},1`)];
    const file = path.join(folder, 'outcomes.csv');
    await writeFile(file, `${outcomes.join('\n')}\n`);
    await ingestFile(lake, { dataset: 'fleet_outcomes', file, logicalDate: arrived });
    await startRun(services, 'outcomes', runParamsOf(config, 'outcomes'), [arrived]);
    await late([arrived]);
    const { performance, days } = await store.listMonitoring('late', predicted, arrived);
    const [day] = performance.filter((row) => row.date === predicted);
    expect(day).toMatchObject({ predictions: 200, matched: 200, positives: rides.filter((fields) => fields[7] === '1').length });
    // The same outcomes through the built-in pipeline's own labels give the same AUC.
    const [own] = (await store.listMonitoring('watched', predicted, predicted)).performance;
    expect(day.auc).toBeCloseTo(own.auc as number, 12);
    expect(days.find((row) => row.date === arrived)).toMatchObject({ actuals: 205, unmatchedActuals: 5 });
  });

  it('leaves a run\'s outcome alone when its alarm email cannot be delivered', async () => {
    const unmailed = (date: string) => startRun(services, 'unmailed', runParamsOf(config, 'unmailed'), [date]);
    await expect(unmailed('2014-08-02')).rejects.toThrow(/2014-08-02/);
    expect(await store.listAlarms('unmailed')).toEqual([expect.objectContaining({ alarm: 'run_failed', state: 'firing' })]);
    expect((await unmailed('2014-07-03')).run.status).toBe('succeeded');
    expect(await store.listAlarms('unmailed')).toEqual([expect.objectContaining({ alarm: 'run_failed', state: 'resolved' })]);
  });

  it('fires run_failed once for failing runs, whatever the run failed of, and resolves it with the next run that succeeds', async () => {
    const before = received.webhook.length;
    // No rides landed for that day: the run fails as it would without monitoring.
    await expect(run(['2014-08-02'])).rejects.toThrow(/2014-08-02/);
    await expect(run(['2014-08-02'])).rejects.toThrow(/2014-08-02/);
    await run(['2014-07-31']);
    expect(received.webhook.slice(before)).toEqual([
      expect.stringMatching(/^:rotating_light: detour watched 2014-08-02: alarm run_failed firing: run \S+ of 2014-08-02 failed: /),
      expect.stringMatching(/^:white_check_mark: detour watched 2014-07-31: alarm run_failed resolved: run \S+ is succeeding/),
    ]);
    expect(received.email.slice(-2)).toEqual(['[FIRING] detour watched 2014-08-02: alarm run_failed firing', '[RESOLVED] detour watched 2014-07-31: alarm run_failed resolved']);
  });

  it('counts people\'s verdicts with the day: a record they say was missed', async () => {
    await store.recordFeedback({ pipeline: 'watched', date: '2014-07-31', anomalyId: 'F20140731-0000001', verdict: 'false_negative' });
    await run(['2014-07-31']);
    expect((await store.listMonitoring('watched', '2014-07-31', '2014-07-31')).days).toEqual([expect.objectContaining({ flagged: 0, truePositives: 0, falseNegatives: 1 })]);
  });

  it('prints it all with `detour monitor`, and refuses bad input with one line and exit 2', async () => {
    await services.queue.close();
    await store.close();
    const root = path.dirname(fileURLToPath(lake.url));
    await writeFile(path.join(root, 'detour.yaml'), JSON.stringify({ ...configInput, lake: lake.url, stateDir: './state' }));
    const report = await detour(root, 'monitor', 'watched', '--from', '2014-07-13', '--to', '2014-07-13');
    expect(report).toMatchObject({ code: 0, stderr: '' });
    expect(report.stdout).toMatch(/^2014-07-13 +watched_service v1 +200 +200 +\d+ +0\.\d{4} +0\.\d{4} +0\.\d{4}$/m);
    expect(report.stdout).toMatch(/^2014-07-13 +watched_service v1 +temperature +14 +2,800 +\d+\.\d{4} +0\.517\d$/m);
    expect(report.stdout).toMatch(/^drift +resolved +2014-07-22 /m);
    expect(report.stdout).toMatch(/^run_failed +resolved +2014-07-31 /m);
    expect(await detour(root, 'monitor', 'watched', '--from', '2014-07-14', '--to', '2014-07-13')).toEqual({ code: 2, stdout: '', stderr: 'detour: --from 2014-07-14 is after --to 2014-07-13\n' });
    expect(await detour(root, 'monitor', 'weather')).toEqual({ code: 2, stdout: '', stderr: 'detour: pipeline "weather" is not monitored: give it `monitor:` in detour.yaml\n' });
  });
});
