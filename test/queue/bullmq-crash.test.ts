import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqQueue } from '../../src/queue/index.js';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const here = path.dirname(fileURLToPath(import.meta.url));
const TSX_LOADER = path.resolve(here, '../../node_modules/tsx/dist/loader.mjs');
const WORKER_SCRIPT = path.join(here, 'crash-worker.ts');
/** Short claims so that a dead worker's job is taken over within a few seconds. */
const LOCK_MS = 2_000;
const JOB_MS = 1_500;

function startWorker(prefix: string, logFile: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, WORKER_SCRIPT, REDIS_URL, prefix, logFile, String(LOCK_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited with ${code} before it was ready`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(child);
    });
  });
}

interface LogLine {
  jobId: string;
  pid: number;
  event: 'start' | 'end';
}

async function readLog(logFile: string): Promise<LogLine[]> {
  const text = await readFile(logFile, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [jobId, pid, event] = line.split(' ');
      return { jobId, pid: Number(pid), event: event as LogLine['event'] };
    });
}

describe('BullMQ queue when a worker process is killed mid-job', () => {
  const prefix = `detour-test-${randomUUID()}`;
  let folder: string;
  let logFile: string;
  const workers: ChildProcess[] = [];
  let coordinator: BullmqQueue;

  beforeAll(async () => {
    folder = await mkdtemp(path.join(tmpdir(), 'detour-queue-crash-'));
    logFile = path.join(folder, 'jobs.log');
    await writeFile(logFile, '');
    workers.push(...(await Promise.all([startWorker(prefix, logFile), startWorker(prefix, logFile)])));
    coordinator = await BullmqQueue.connect({ url: REDIS_URL, prefix, lockDurationMs: LOCK_MS, stalledIntervalMs: LOCK_MS });
  });

  afterAll(async () => {
    await Promise.all(
      workers
        .filter((child) => child.exitCode === null && child.signalCode === null)
        .map(async (child) => {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }),
    );
    await coordinator?.obliterate();
    await coordinator?.close();
    await rm(folder, { recursive: true, force: true });
  });

  it('hands the dead worker’s job to the survivor and completes every job exactly once', async () => {
    const [victim, survivor] = workers;
    const started = Date.now();
    const jobs = Array.from({ length: 6 }, (_, index) => ({ id: `run-1:step-${index}`, name: 'sleep', data: { ms: JOB_MS } }));
    const running = coordinator.run(jobs);

    // Kill the victim a little after it started a job, well before that job can end.
    await expect.poll(async () => (await readLog(logFile)).some((line) => line.pid === victim.pid && line.event === 'start'), { timeout: 5_000, interval: 50 }).toBe(true);
    await sleep(300);
    victim.kill('SIGKILL');
    await once(victim, 'exit');
    const log = await readLog(logFile);
    const interrupted = log.filter((line) => line.pid === victim.pid && line.event === 'start' && !log.some((end) => end.jobId === line.jobId && end.event === 'end'));
    expect(interrupted).toHaveLength(1);

    const results = await running;
    const elapsedMs = Date.now() - started;

    expect(results.map((result) => result.status)).toEqual(Array(6).fill('completed'));
    const finalLog = await readLog(logFile);
    for (const job of jobs) {
      expect(finalLog.filter((line) => line.jobId === job.id && line.event === 'end'), job.id).toHaveLength(1);
    }
    const takenOver = interrupted[0].jobId;
    expect(finalLog.filter((line) => line.jobId === takenOver)).toEqual([
      { jobId: takenOver, pid: victim.pid, event: 'start' },
      { jobId: takenOver, pid: survivor.pid, event: 'start' },
      { jobId: takenOver, pid: survivor.pid, event: 'end' },
    ]);
    expect(results.find((result) => result.id === takenOver)).toEqual({ id: takenOver, status: 'completed', value: { pid: survivor.pid } });
    // 6 × 1.5 s of work on what is left of 2 workers, plus about a claim and two stall checks.
    expect(elapsedMs).toBeLessThan(20_000);
  }, 30_000);
});
