/**
 * Leases and their heartbeats: a coordinator holds a lease on each run it executes and a worker on
 * each step it runs, and renews it while it works, so that the run store can tell a live run
 * from one whose process died or lost its database (see `Store`).
 */
import { hostname } from 'node:os';
import type { LivenessConfig } from '../config/index.js';
import type { Lease } from '../store/index.js';

/** This process, as leases and step records name it. */
export const THIS_PROCESS = `${hostname()}:${process.pid}`;

/** A lease of this process, as long as `liveness` says. */
export function leaseOf(liveness: LivenessConfig): Lease {
  return { owner: THIS_PROCESS, seconds: liveness.leaseSeconds };
}

export interface HeartbeatOptions {
  liveness: LivenessConfig;
  /** Renews the lease: true when renewed, false when it is no longer held. */
  renew: () => Promise<boolean>;
  /** The lease is no longer held; the heartbeat has stopped. */
  onLost: () => void;
  /** A renewal failed (the database unreachable); it is tried again at the next beat. */
  onMissed?: (error: unknown) => void;
}

/**
 * Renews a lease every `liveness.heartbeatSeconds` until the returned function is called or the
 * lease is lost. Beats never overlap: a renewal still waiting for the database skips the beats in
 * between, and a lease that expired meanwhile is reported lost by the next renewal that gets
 * through, if another process failed the run in between.
 */
export function startHeartbeat(options: HeartbeatOptions): () => void {
  let beating = false;
  const timer = setInterval(() => {
    if (beating) return;
    beating = true;
    options
      .renew()
      .then(
        (held) => {
          if (held) return;
          clearInterval(timer);
          options.onLost();
        },
        (error: unknown) => options.onMissed?.(error),
      )
      .finally(() => (beating = false));
  }, options.liveness.heartbeatSeconds * 1000);
  return () => clearInterval(timer);
}
