import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/** The NATS server (with JetStream) tests use: NATS_URL, else the local one. */
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** Removes a stream a test created (with its consumers and messages), so that the server does not keep every test's. */
export async function deleteNatsStream(stream: string): Promise<void> {
  const connection = await connect({ servers: NATS_URL });
  try {
    await (await jetstreamManager(connection)).streams.delete(stream);
  } finally {
    await connection.close();
  }
}
