import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DetourConfigSchema } from '../../src/config/index.js';
import { startHeartbeat } from '../../src/pipeline/heartbeat.js';

const liveness = DetourConfigSchema.parse({ liveness: { leaseSeconds: 1, heartbeatSeconds: 0.02 } }).liveness;

describe('startHeartbeat', () => {
  it('renews every heartbeat until stopped', async () => {
    let renewals = 0;
    const stop = startHeartbeat({ liveness, renew: async () => (renewals++, true), onLost: () => expect.fail('not lost') });
    await sleep(150);
    stop();
    const atStop = renewals;
    await sleep(60);

    expect(atStop).toBeGreaterThanOrEqual(3);
    expect(renewals).toBe(atStop);
  });

  it('keeps beating through failed renewals, and stops once a renewal says the lease is lost', async () => {
    const outcomes = ['missed', 'missed', 'held', 'lost'];
    const missed: unknown[] = [];
    let lost = 0;
    let renewals = 0;
    startHeartbeat({
      liveness,
      renew: async () => {
        const outcome = outcomes[renewals++];
        if (outcome === 'missed') throw new Error('database unreachable');
        return outcome === 'held';
      },
      onLost: () => lost++,
      onMissed: (error) => missed.push(error),
    });
    await sleep(250);

    expect(missed).toHaveLength(2);
    expect(lost).toBe(1);
    expect(renewals).toBe(4);
  });

  it('never overlaps renewals: a slow one skips the beats in between', async () => {
    let running = 0;
    let overlapped = false;
    let renewals = 0;
    const stop = startHeartbeat({
      liveness,
      renew: async () => {
        renewals++;
        overlapped ||= running > 0;
        running++;
        await sleep(100);
        running--;
        return true;
      },
      onLost: () => expect.fail('not lost'),
    });
    await sleep(250);
    stop();

    expect(overlapped).toBe(false);
    expect(renewals).toBeLessThanOrEqual(3);
  });
});
