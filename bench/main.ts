/**
 * Benchmark runner: `node --expose-gc dist/bench/main.js [bench ...]` (all benches when none is named).
 *
 * Every case runs in its own child process (`main.js --case <bench> <index>`), so its peak memory is
 * its own. The child prints one JSON line, which the parent forwards to stdout:
 * `{"bench":"dbscan","rows":1000000,"seconds":0.83,"peak_mb":312}`, where seconds is the wall time of
 * the measured work only and peak_mb the process's maximum resident set size.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The timed part of a case; may be async. */
export type BenchWork = () => unknown;

/** One measured case of a bench. */
export interface BenchCase {
  rows: number;
  /** Tells cases with the same row count apart, e.g. `workers=2`; printed as `case`. */
  label?: string;
  /** Builds the inputs (not timed) and returns the work to time. */
  prepare(): BenchWork | Promise<BenchWork>;
  /** Extra fields for the JSON line, from what the work returned (e.g. seconds per stage). */
  report?(result: unknown): Record<string, unknown>;
  /** Runs after the work is timed and its line printed: stops what prepare started (servers, a browser). */
  cleanup?(): Promise<void>;
}

/** What a bench module exports. */
export interface BenchModule {
  cases: readonly BenchCase[];
}

/** Registered benches, loaded lazily so that a case process only loads its own bench. */
const BENCHES: Record<string, () => Promise<BenchModule>> = {
  dbscan: () => import('./dbscan.js'),
  arima: () => import('./arima.js'),
  iforest: () => import('./iforest.js'),
  flights: () => import('./flights.js'),
  'rides-day': () => import('./rides-day.js'),
  backfill: () => import('./backfill.js'),
  'small-partitions': () => import('./small-partitions.js'),
  train: () => import('./train.js'),
  score: () => import('./score.js'),
  'train-workers': () => import('./train-workers.js'),
  api: () => import('./api.js'),
  fleet: () => import('./fleet.js'),
  quality: () => import('./quality.js'),
  monitor: () => import('./monitor.js'),
  web: () => import('./web.js'),
  bus: () => import('./bus.js'),
};

async function loadBench(name: string): Promise<BenchModule> {
  const load = BENCHES[name];
  if (load === undefined) {
    throw new Error(`unknown bench "${name}"; known: ${Object.keys(BENCHES).join(', ')}`);
  }
  return load();
}

/** Child side: runs one case and prints its JSON line. */
async function runCase(name: string, index: number): Promise<void> {
  const benchCase = (await loadBench(name)).cases[index];
  if (benchCase === undefined) throw new Error(`bench "${name}" has no case ${index}`);
  const { rows } = benchCase;
  const work = await benchCase.prepare();
  // Collect the preparation's garbage so it is not charged to the measured work.
  globalThis.gc?.();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const result = await work();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const peakMb = Math.round(process.resourceUsage().maxRSS / 1024);
  const line = { bench: name, ...(benchCase.label === undefined ? {} : { case: benchCase.label }), rows, seconds: Number(seconds.toFixed(3)), peak_mb: peakMb, cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)), ...benchCase.report?.(result) };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  await benchCase.cleanup?.();
}

/** Parent side: runs each case of each bench in a fresh process, one at a time. */
async function runBenches(names: readonly string[]): Promise<boolean> {
  const script = fileURLToPath(import.meta.url);
  let allPassed = true;
  for (const name of names) {
    for (const [index, { rows, label }] of (await loadBench(name)).cases.entries()) {
      const child = spawn(process.execPath, [...process.execArgv, script, '--case', name, String(index)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const exitCode = await new Promise<number | null>((resolve) => child.on('close', resolve));
      process.stdout.write(output);
      if (exitCode !== 0) {
        process.stderr.write(`bench ${name} at ${rows} rows${label ? ` (${label})` : ''} failed (exit code ${exitCode})\n`);
        allPassed = false;
      }
    }
  }
  return allPassed;
}

async function main(args: readonly string[]): Promise<void> {
  if (args[0] === '--case') {
    await runCase(args[1], Number(args[2]));
    return;
  }
  const names = args.length > 0 ? args : Object.keys(BENCHES);
  for (const name of names) await loadBench(name);
  if (!(await runBenches(names))) process.exitCode = 1;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
