import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LANDED, openBus, STORAGE_EVENTS, type EventBus, type LandedEvent, type Topic } from '../../src/bus/index.js';
import { S3Lake } from '../../src/lake/index.js';
import { consumeStorageEvents } from '../../src/pipeline/index.js';
import { deleteNatsStream, NATS_URL } from '../helpers/nats.js';
import { startS3Server, type S3TestServer } from '../helpers/s3-server.js';

/** Storage notifications as the storage publishes them, unchecked. */
const RAW_STORAGE_EVENTS: Topic<unknown> = { subject: STORAGE_EVENTS.subject, schema: z.unknown() };

/** A notification as MinIO's NATS target sends it for one object put (key URL-encoded, + for a space). */
function objectCreated(bucket: string, key: string): unknown {
  return {
    EventName: 's3:ObjectCreated:Put',
    Key: `${bucket}/${key}`,
    Records: [{ eventVersion: '2.0', eventSource: 'minio:s3', eventName: 's3:ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replaceAll('%2F', '/').replaceAll('%20', '+'), size: 10 } } }],
  };
}

describe('an object put straight into the bucket, announced by a storage notification', () => {
  const id = randomBytes(6).toString('hex');
  let server: S3TestServer;
  let lake: S3Lake;
  let bus: EventBus;

  beforeAll(async () => {
    server = await startS3Server({ bucket: 'fleet-lake' });
    lake = new S3Lake('s3://fleet-lake/prod', { endpoint: server.endpoint, credentials: { accessKeyId: server.accessKey, secretAccessKey: server.accessKey } });
    bus = await openBus({ url: NATS_URL, stream: `STORAGE_${id}`, subjectPrefix: `storage_${id}`, ackWaitMs: 5_000, maxDeliveries: 3, duplicateWindowMs: 60_000 });
  });
  afterAll(async () => {
    await bus?.close();
    await deleteNatsStream(`STORAGE_${id}`).catch(() => undefined);
    await lake?.close();
    await server?.stop();
  });

  it('is announced as lake.landed with its content’s sha256; objects outside this lake’s bronze partitions are not', async () => {
    const body = 'ride_id,vehicle_id,city,start_time,end_time,distance_miles,duration_min,service_requested\n';
    const key = 'bronze/fleet_rides/date=2015-03-09/rides of the day.csv';
    await lake.put(key, body);
    await lake.put('bronze/fleet_rides/date=2015-03-09/_manifest.json', '[]');
    const landed: LandedEvent[] = [];
    const listener = await bus.consume(LANDED, 'test-listener', async ({ message }) => {
      landed.push(message);
      return { outcome: 'done' };
    });
    const bridge = await consumeStorageEvents(lake, bus, { retryDelayMs: 100 });
    try {
      for (const objectKey of ['prod/bronze/fleet_rides/date=2015-03-09/_manifest.json', 'prod/silver/fleet_rides/date=2015-03-09/data.parquet', 'elsewhere/bronze/fleet_rides/date=2015-03-09/x.csv', `prod/${key}`]) {
        await bus.publish(RAW_STORAGE_EVENTS, objectCreated('fleet-lake', objectKey));
      }
      await bus.publish(RAW_STORAGE_EVENTS, objectCreated('other-bucket', `prod/${key}`));
      while (landed.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    } finally {
      await bridge.stop();
      await listener.stop();
    }
    expect(landed).toEqual([{ dataset: 'fleet_rides', date: '2015-03-09', key, sha256: createHash('sha256').update(body).digest('hex') }]);
  }, 60_000);
});
