/**
 * Event-driven runs: a file that lands in bronze is announced as `lake.landed` on the bus, and the
 * pipelines over its dataset with `trigger: landed` run for its partition, once per file (key and
 * sha256). The run records the event in its params, which is how a delivery that comes again (its
 * consumer died mid-run, or the same file was announced twice) finds the run it started: done
 * already, still running elsewhere, or failed and to be resumed. Outputs are keyed and UPSERTed, so
 * a run taken up again leaves every row once.
 */
import { LANDED, STORAGE_EVENTS, type BusConsumer, type EventBus, type LandedEvent, type Settlement, type StorageEvent } from '../bus/index.js';
import type { DetourConfig } from '../config/index.js';
import { openEngine } from '../engine/index.js';
import { InputError, NotFoundError, QualityGateError } from '../errors.js';
import { landedPartitionOf, type Lake } from '../lake/index.js';
import type { RunRecord } from '../store/index.js';
import type { RunTrigger } from './context.js';
import type { RunResult, RunServices } from './executor.js';
import { sha256OfFile } from './hashing.js';
import { resumeRun, runParamsOf, startRun } from './runs.js';

/** A file an ingest landed (or found already there, the same bytes) in a partition. */
export interface LandedFile {
  logicalDate: string;
  key: string;
  entry: { sha256: string };
}

/** The `lake.landed` events of what an ingest landed in `dataset`: one per partition file. */
export function landedEvents(dataset: string, files: readonly LandedFile[]): LandedEvent[] {
  return files.map((file) => ({ dataset, date: file.logicalDate, key: file.key, sha256: file.entry.sha256 }));
}

/**
 * Publishes `lake.landed` for each event. The bus drops one it already had (same key and sha256
 * within its duplicate window), so announcing a file twice runs its pipelines once.
 */
export async function announceLanded(bus: EventBus, events: readonly LandedEvent[]): Promise<{ published: number; duplicates: number }> {
  let duplicates = 0;
  for (const event of events) if ((await bus.publish(LANDED, event)).duplicate) duplicates++;
  return { published: events.length - duplicates, duplicates };
}

/** The pipelines among `names` that run when their dataset lands (`trigger: landed`), only those over `dataset` when given. */
export function landedPipelines(config: DetourConfig, names: readonly string[], dataset?: string): string[] {
  return names.filter((name) => config.pipelines[name]?.trigger === 'landed' && (dataset === undefined || config.pipelines[name].dataset === dataset));
}

/** What running a pipeline for a landed file came to. */
export type LandedOutcome =
  | { status: 'succeeded'; pipeline: string; result: RunResult }
  /** A run for this very file had succeeded already: nothing was run. */
  | { status: 'already'; pipeline: string; run: RunRecord }
  /** A run for this file is running, held by another live process: nothing was run. */
  | { status: 'running'; pipeline: string; run: RunRecord };

/**
 * Runs `pipeline` for the landed file's date, once per file: when a run started for this file
 * succeeded already, nothing runs; when one is running elsewhere (its lease alive), nothing runs
 * either; when one failed (its process died, or it failed and the event came again), it is
 * resumed; otherwise a new run starts, recording the event as its trigger. A run that fails
 * throws its error, as `startRun` does.
 */
export async function runForLanded(services: RunServices, config: DetourConfig, pipeline: string, event: LandedEvent): Promise<LandedOutcome> {
  const trigger: RunTrigger = { landed: event };
  const runs = await services.store.runsTriggeredBy(pipeline, { ...trigger });
  const done = runs.find((run) => run.status === 'succeeded');
  if (done !== undefined) return { status: 'already', pipeline, run: done };
  const [latest] = runs;
  if (latest?.status === 'running') return { status: 'running', pipeline, run: latest };
  const result = latest?.status === 'failed' ? await resumeRun(services, latest.id) : await startRun(services, pipeline, { ...runParamsOf(config, pipeline), trigger }, [event.date]);
  return { status: 'succeeded', pipeline, result };
}

/**
 * Whether a run that failed with `error` may succeed when the event comes again: not for bad
 * data or a failed quality gate, which fail the same way every time; yes for a partition it
 * joins that is missing (it may land meanwhile) and anything else (a service away, a process lost).
 */
function worthRetrying(error: unknown): boolean {
  if (error instanceof QualityGateError) return false;
  return !(error instanceof InputError) || error instanceof NotFoundError;
}

export interface LandedConsumerOptions {
  /** How long a failed run's event waits before it comes again. */
  retryDelayMs: number;
  /** Each pipeline's outcome for an event. */
  onOutcome?: (event: LandedEvent, outcome: LandedOutcome) => void;
  /** A pipeline whose run failed for an event; `final` when the event will not come again. */
  onFailure?: (event: LandedEvent, pipeline: string, error: unknown, final: boolean) => void;
  /** A message the bus could not hand over (not a landed event), or a consumer fault. */
  onError?: (error: unknown) => void;
}

/**
 * Consumes `lake.landed` for `detour serve`: each event runs the landed-triggered pipelines among
 * `names` over its dataset ({@link runForLanded}), and is acknowledged once all of them are done.
 * A run that failed in a way worth retrying (see worthRetrying), or that another process still
 * runs, has its event delivered again later; one that failed on bad data drops it (the failed run
 * says why, and `detour runs resume` takes it up). The durable consumer is named `landed`.
 */
export async function consumeLanded(services: RunServices, config: DetourConfig, bus: EventBus, names: readonly string[], options: LandedConsumerOptions): Promise<BusConsumer> {
  const leaseMs = services.liveness.leaseSeconds * 1000;
  return bus.consume(
    LANDED,
    'landed',
    async ({ message: event, lastAttempt }): Promise<Settlement> => {
      const settlements: Settlement[] = [];
      for (const pipeline of landedPipelines(config, names, event.dataset)) {
        try {
          const outcome = await runForLanded(services, config, pipeline, event);
          options.onOutcome?.(event, outcome);
          // Its lease runs out if its process is gone; the run is then failed and resumed here.
          if (outcome.status === 'running') settlements.push({ outcome: 'retry', delayMs: leaseMs });
        } catch (error) {
          const retry = worthRetrying(error);
          options.onFailure?.(event, pipeline, error, !retry || lastAttempt);
          settlements.push(retry ? { outcome: 'retry', delayMs: options.retryDelayMs } : { outcome: 'drop', reason: `pipeline ${pipeline} failed on ${event.key}` });
        }
      }
      const retries = settlements.filter((settlement) => settlement.outcome === 'retry');
      if (retries.length > 0) return { outcome: 'retry', delayMs: Math.max(...retries.map((settlement) => settlement.delayMs)) };
      return settlements.find((settlement) => settlement.outcome === 'drop') ?? { outcome: 'done' };
    },
    { retryDelayMs: options.retryDelayMs, onError: options.onError },
  );
}

/**
 * The landed files a storage notification names: objects created in this lake's bronze partitions
 * (`bronze/<dataset>/date=D/<file>`, side files left out), each with its content's sha256. Objects
 * of other buckets or prefixes, and objects already gone again, are left out.
 */
export async function landedOfStorageEvent(lake: Lake, notification: StorageEvent): Promise<LandedEvent[]> {
  const located = notification.Records.filter((record) => /(^|:)ObjectCreated:/.test(record.eventName)).flatMap((record) => {
    // Keys come URL-encoded, with + for a space.
    const url = `s3://${record.s3.bucket.name}/${decodeURIComponent(record.s3.object.key.replaceAll('+', ' '))}`;
    const key = url.startsWith(`${lake.url}/`) ? url.slice(lake.url.length + 1) : undefined;
    const partition = key === undefined ? undefined : landedPartitionOf(key);
    return key === undefined || partition === undefined ? [] : [{ ...partition, key }];
  });
  if (located.length === 0) return [];
  const engine = await openEngine();
  try {
    const events: LandedEvent[] = [];
    for (const { dataset, date, key } of located) {
      let localPath: string;
      try {
        [localPath] = await engine.stage(lake, [key]);
      } catch (error) {
        if (error instanceof NotFoundError) continue;
        throw error;
      }
      events.push({ dataset, date, key, sha256: await sha256OfFile(localPath) });
    }
    return events;
  } finally {
    await engine.close();
  }
}

/**
 * Consumes storage notifications (`storage.events`) and announces each bronze object they name as
 * `lake.landed`, so that an object put straight into the bucket runs its pipelines like a file
 * landed with `detour ingest`. The durable consumer is named `storage-events`.
 */
export function consumeStorageEvents(lake: Lake, bus: EventBus, options: { retryDelayMs: number; onError?: (error: unknown) => void }): Promise<BusConsumer> {
  return bus.consume(
    STORAGE_EVENTS,
    'storage-events',
    async ({ message }): Promise<Settlement> => {
      await announceLanded(bus, await landedOfStorageEvent(lake, message));
      return { outcome: 'done' };
    },
    options,
  );
}
