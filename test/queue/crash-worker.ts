/**
 * A worker process for bullmq-crash.test.ts: runs jobs that log "<jobId> <pid> start|end" lines
 * to a shared file around a sleep of `data.ms`, and prints "ready" once it takes jobs.
 * Usage: node --import <tsx loader> crash-worker.ts <redisUrl> <prefix> <logFile> <lockMs>
 */
import { appendFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BullmqQueue } from '../../src/queue/index.js';

const [url, prefix, logFile, lockMs] = process.argv.slice(2);
const queue = await BullmqQueue.connect({ url, prefix, lockDurationMs: Number(lockMs), stalledIntervalMs: Number(lockMs) });
await queue.work(async (job) => {
  await appendFile(logFile, `${job.id} ${process.pid} start\n`);
  await sleep(Number(job.data.ms));
  await appendFile(logFile, `${job.id} ${process.pid} end\n`);
  return { pid: process.pid };
});
process.on('SIGTERM', () => {
  void queue.close().then(() => process.exit(0));
});
process.stdout.write('ready\n');
