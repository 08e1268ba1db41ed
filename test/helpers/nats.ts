import { jetstream, jetstreamManager } from '@nats-io/jetstream';
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

/** Every message of `stream` on subjects matching `subject` (wildcards allowed), in order, parsed as JSON, with the subject each came on. */
export async function readNatsMessages(stream: string, subject: string): Promise<{ subject: string; data: unknown }[]> {
  const connection = await connect({ servers: NATS_URL });
  try {
    const manager = await jetstreamManager(connection);
    const info = await manager.streams.info(stream, { subjects_filter: subject });
    const total = Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
    const messages: { subject: string; data: unknown }[] = [];
    if (total === 0) return messages;
    const consumer = await jetstream(connection).consumers.get(stream, { filter_subjects: subject });
    const fetched = await consumer.consume();
    for await (const message of fetched) {
      messages.push({ subject: message.subject, data: message.json() });
      if (messages.length === total) break;
    }
    await fetched.close();
    return messages;
  } finally {
    await connection.close();
  }
}
