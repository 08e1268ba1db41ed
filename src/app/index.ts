/**
 * The composition root: the one place that wires a lake, a run store, a queue, logging and
 * metrics into the services pipelines run on. The CLI, the server, benches and tests all start
 * here; each may hand in a lake or store it opened itself (a test's temp folder, a bench's
 * database) and gets the rest built from the config.
 */
import type { EventBus } from '../bus/index.js';
import type { DetourConfig } from '../config/index.js';
import { InputError } from '../errors.js';
import { envLake, openLake, type Lake } from '../lake/index.js';
import { createLogger, Metrics, type Logger } from '../observability/index.js';
import { loadModel, loadSupervisedModel, ModelCache, stepJobHandler, type LoadedSupervisedModel, type RunServices, type StepEvent } from '../pipeline/index.js';
import { openQueue, type JobQueue, type WorkerHandle } from '../queue/index.js';
import { BusResultsSink, type ResultsSink } from '../sinks/index.js';
import { openStore, type Store } from '../store/index.js';
import { openConfiguredBus, placementOf } from './environment.js';

export { openConfiguredBus, placementOf, type EnvironmentPlacement } from './environment.js';
export { createEnvironment, destroyEnvironment, listEnvironments, type CreatedEnvironment, type Deployment, type DestroyedEnvironment } from './environments.js';

export interface AppOptions {
  config: DetourConfig;
  /** Folder that relative paths of the config (lake, stateDir) are resolved against; default the current directory. */
  baseDir?: string;
  /** The deployment's lake to use instead of the config's (the app works in its environment's part of it); the caller closes it. */
  lake?: Lake;
  /** A run store to use instead of the config's (taken as the environment's own: no schema is chosen for it); the caller closes it. */
  store?: Store;
  /** Structured log level; default `LOG_LEVEL`, else silent (a CLI prints its own one-line errors). */
  logLevel?: string;
  /** One-line notices for whoever runs the process (waiting for PostgreSQL or Redis); default: `detour: <notice>` on stderr. */
  onNotice?: (notice: string) => void;
}

export interface ServiceOptions {
  /** Step partitions this process runs at once in embedded mode; default 1. */
  concurrency?: number;
  onStep?: (event: StepEvent) => void;
}

/** What every entry point works with; `close()` releases what the app opened. */
export interface App {
  config: DetourConfig;
  /** The environment it works in (`config.env`): its lake folder, schema, queue prefix and bus subjects. */
  env: string;
  /** The environment's lake: the deployment's lake for prod, its `envs/<env>/` folder otherwise. */
  lake: Lake;
  store: Store;
  queue: JobQueue;
  logger: Logger;
  metrics: Metrics;
  /** Registered per-entity models loaded on demand, by (name, version), and each name's production version. */
  models: ModelCache;
  /** The same for supervised models: what `predictProbabilities` takes. */
  supervisedModels: ModelCache<LoadedSupervisedModel>;
  /** Services for running pipelines. Embedded (inline queue): this process also executes the steps. */
  services(options?: ServiceOptions): Promise<RunServices>;
  /** Makes this process a worker: it executes step jobs from the queue, `concurrency` at once. */
  work(concurrency: number): Promise<WorkerHandle>;
  /** The event bus the config names (`bus.url`, BUS_URL), in the environment's part of it, connected on first use and closed with the app; undefined without one. */
  bus(): Promise<EventBus | undefined>;
  /** Where a pipeline's `publish.bus` puts its results, under `subjectPrefix`; undefined without a bus. */
  resultsSink(subjectPrefix: string): ResultsSink | undefined;
  close(): Promise<void>;
}

/**
 * Opens the app a config describes.
 *
 * @example
 * ```ts
 * const app = await openApp({ config, lake: new FsLake(dir) });
 * try {
 *   await startRun(await app.services({ concurrency: 2 }), 'rides', runParamsOf(config, 'rides'), ['2024-01-01']);
 * } finally {
 *   await app.close();
 * }
 * ```
 * @throws InputError for a distributed queue without a shared PostgreSQL run store.
 */
export async function openApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const baseDir = options.baseDir ?? process.cwd();
  if (config.queue.url && !config.databaseUrl && options.store === undefined) {
    // Workers on other processes read and record runs; embedded PGlite belongs to one process.
    throw new InputError('a distributed queue (QUEUE_URL) needs a run store every process shares: set DATABASE_URL=postgres://...');
  }
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) await closer();
  };
  const outages = {
    outageWaitMs: config.liveness.outageSeconds * 1000,
    onOutage: options.onNotice ?? ((notice: string) => void process.stderr.write(`detour: ${notice}\n`)),
  };
  const placement = placementOf(config, baseDir);
  try {
    const deploymentLake = options.lake ?? openLake(config.lake, { baseDir });
    if (options.lake === undefined) closers.push(() => deploymentLake.close());
    const lake = envLake(deploymentLake, placement.lakeEnv);
    const store = options.store ?? (await openStore({ databaseUrl: config.databaseUrl, stateDir: placement.stateDir, schema: placement.schema, ...outages }));
    if (options.store === undefined) closers.push(() => store.close());
    const queue = await openQueue(config.queue.url, {
      prefix: placement.queuePrefix,
      lockDurationMs: config.queue.lockSeconds * 1000,
      stalledIntervalMs: config.queue.lockSeconds * 1000,
      ...outages,
    });
    closers.push(() => queue.close());
    const logger = createLogger({ level: options.logLevel ?? process.env.LOG_LEVEL ?? 'silent' });
    const metrics = new Metrics({ queueDepth: async () => ({ ...(await queue.depth()) }) });
    const { liveness } = config;
    const work = (concurrency: number) => queue.work(stepJobHandler({ lake, store, liveness, logger, metrics }), { concurrency });
    let working = false;
    /** Connects once, closed with the app; a failed connection is not kept: the next call tries again. */
    const connectOnce = (connect: () => Promise<EventBus | undefined>) => {
      let connection: Promise<EventBus | undefined> | undefined;
      return () => {
        if (connection === undefined) {
          connection = connect();
          const opened = connection;
          closers.push(async () => void (await (await opened.catch(() => undefined))?.close()));
          opened.catch(() => (connection = undefined));
        }
        return connection;
      };
    };
    const resultsBuses = new Map<string, () => Promise<EventBus | undefined>>();
    const resultsSink = (subjectPrefix: string): ResultsSink | undefined => {
      if (config.bus.url === undefined) return undefined;
      let connect = resultsBuses.get(subjectPrefix);
      if (connect === undefined) {
        connect = connectOnce(() => openConfiguredBus(config, { subjectPrefix, namespace: null }));
        resultsBuses.set(subjectPrefix, connect);
      }
      const connected = connect;
      return new BusResultsSink({
        description: `${config.bus.url} (stream ${config.bus.stream}, subjects ${subjectPrefix}.${config.env}.…)`,
        connect: async () => {
          const opened = await connected();
          if (opened === undefined) throw new InputError('no bus to publish results on: set bus.url or BUS_URL');
          return opened;
        },
        onRetry: ({ attempt, error, delayMs }) => logger.warn({ attempt, delayMs, error }, 'results not published on the bus; trying again'),
      });
    };
    return {
      config,
      env: config.env,
      lake,
      store,
      queue,
      logger,
      metrics,
      models: new ModelCache({ lake, store, logger, load: loadModel }),
      supervisedModels: new ModelCache({ lake, store, logger, load: loadSupervisedModel }),
      async services(serviceOptions = {}) {
        if (queue.kind === 'inline' && !working) {
          await work(serviceOptions.concurrency ?? 1);
          working = true;
        }
        return { lake, store, queue, liveness, logger, metrics, onStep: serviceOptions.onStep, env: config.env, resultsSink };
      },
      work,
      bus: connectOnce(() => openConfiguredBus(config)),
      resultsSink,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
