/**
 * Publishing a run's findings on NATS JetStream (`publish.bus`): 100,000 anomaly messages through
 * the results sink, as a run's end publishes them (ids for de-duplication, acknowledgements
 * pipelined). `rows` is messages; the stream (unique per case) is deleted when the case ends.
 * Needs NATS with JetStream at NATS_URL (default nats://127.0.0.1:4222).
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { openBus, type EventBus } from '../src/bus/index.js';
import { BusResultsSink, RESULTS_SCHEMA_VERSION, type AnomalyMessage } from '../src/sinks/index.js';
import type { BenchCase } from './main.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** `count` anomalies of one day, shaped like the rides pipeline's. */
function anomalies(count: number): AnomalyMessage[] {
  return Array.from({ length: count }, (_, index) => ({
    schemaVersion: RESULTS_SCHEMA_VERSION,
    env: 'bench',
    pipeline: 'rides',
    run_id: 'bench-run',
    logical_date: '2024-03-01',
    id: `R${String(index).padStart(8, '0')}`,
    detector: 'dbscan',
    entity: `T${index % 500}`,
    value: index / 7,
    expected: 12.5,
    lower: 3,
    upper: 25,
    score: (index % 100) / 100,
    reason: 'ride time far from its cluster',
    attributes: { taxi_id: `T${index % 500}`, ride_dist_km: 4.2, ride_time_min: 61 },
  }));
}

/** Closes the bus and deletes the case's stream (after the timed work: the case's process exits once it is done). */
async function cleanUp(bus: EventBus, stream: string): Promise<void> {
  await bus.close();
  const connection = await connect({ servers: NATS_URL });
  try {
    await (await jetstreamManager(connection)).streams.delete(stream);
  } finally {
    await connection.close();
  }
}

function publishCase(rows: number): BenchCase {
  let cleanUpAfterwards: (() => Promise<void>) | undefined;
  return {
    rows,
    async prepare() {
      const id = randomBytes(4).toString('hex');
      const stream = `BENCH_${id}`;
      const bus = await openBus({ url: NATS_URL, stream, subjectPrefix: `bench_${id}`, ackWaitMs: 30_000, maxDeliveries: 1, duplicateWindowMs: 600_000 });
      cleanUpAfterwards = () => cleanUp(bus, stream);
      const sink = new BusResultsSink({ connect: async () => bus, description: bus.description });
      const messages = anomalies(rows);
      return async () => {
        const counts = await sink.publishFindings({ anomalies: messages, predictions: [] });
        if (counts.published !== rows) throw new Error(`published ${counts.published} of ${rows}`);
        return counts;
      };
    },
    report() {
      void cleanUpAfterwards?.();
      return {};
    },
  };
}

export const cases: readonly BenchCase[] = [publishCase(100_000)];
