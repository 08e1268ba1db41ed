import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openBus } from '../../src/bus/index.js';
import { TransientError } from '../../src/errors.js';
import { RetriesExhaustedError } from '../../src/retry.js';
import { BusResultsSink, RESULTS_SCHEMA_VERSION, type RunStateMessage } from '../../src/sinks/index.js';
import { deleteNatsStream, NATS_URL, readNatsMessages } from '../helpers/nats.js';

const started: RunStateMessage = { schemaVersion: RESULTS_SCHEMA_VERSION, env: 'prod', pipeline: 'rides', run_id: 'run-1', event: 'runs.started', logical_date: '2024-03-01', end_date: '2024-03-01' };
const fastRetry = { retries: 3, backoff: { initialDelayMs: 10, maxDelayMs: 20 } };

describe('BusResultsSink', () => {
  it('tries a bus that does not answer again, saying so each time, and publishes once it does', async () => {
    const id = randomBytes(6).toString('hex');
    const bus = await openBus({ url: NATS_URL, stream: `SINK_${id}`, subjectPrefix: `sink_${id}`, ackWaitMs: 30_000, maxDeliveries: 1, duplicateWindowMs: 60_000 });
    try {
      let attempts = 0;
      const retries: number[] = [];
      const sink = new BusResultsSink({
        description: 'test bus',
        connect: async () => {
          if (++attempts < 3) throw new TransientError('NATS is restarting');
          return bus;
        },
        retry: fastRetry,
        onRetry: ({ attempt }) => retries.push(attempt),
      });
      expect(await sink.publishRunState(started)).toEqual({ published: 1, duplicates: 0 });
      expect(retries).toEqual([1, 2]);
      expect(await sink.publishRunState(started)).toEqual({ published: 0, duplicates: 1 });
      expect((await readNatsMessages(`SINK_${id}`, `sink_${id}.prod.runs`)).map(({ data }) => data)).toEqual([started]);
    } finally {
      await bus.close();
      await deleteNatsStream(`SINK_${id}`);
    }
  });

  it('gives up after its retries with the last error', async () => {
    const sink = new BusResultsSink({ description: 'test bus', connect: async () => Promise.reject(new TransientError('cannot reach NATS at nats://127.0.0.1:1')), retry: fastRetry });
    const error = await sink.publishRunState(started).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toContain('cannot reach NATS');
  });
});
