import type { Socket } from 'node:net';
import { availableParallelism } from 'node:os';
import { Command } from 'commander';
import { loadConfig } from '../config/index.js';
import { openEngine } from '../engine/index.js';
import { InputError, oneLine } from '../errors.js';
import { GroupMetrics, groupMemberMetrics, startMetricsServer } from '../observability/index.js';
import { consumeLanded, consumeStorageEvents, landedPipelines, pipelineScheduler, watchStaleness, type LandedOutcome, type RunServices } from '../pipeline/index.js';
import { apiTokens, listenHost, serveHandedConnections, servingProcessIndex, ServingProcesses, startApiServer, untilFirstGone, type ApiToken } from '../server/index.js';
import { openCliContext, withCommonOptions, type CliContext, type CommonOptions } from './context.js';
import { stepParallelOption, wholeNumber } from './options.js';

/** Resolves on SIGINT or SIGTERM, so a service shuts down cleanly (running steps finish first). */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve(signal));
  });
}

const port = (flag: string) => (value: string) => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0 || number > 65_535) throw new InputError(`${flag} must be a port number (0 = any free port), got "${value}"`);
  return number;
};

/** A line for a pipeline's outcome on a landed file. */
function describeLanded(key: string, outcome: LandedOutcome): string {
  if (outcome.status === 'succeeded') return `run ${outcome.result.run.id} succeeded for ${key}`;
  if (outcome.status === 'already') return `${key} already processed by run ${outcome.run.id}`;
  return `${key} is being processed by run ${outcome.run.id} elsewhere; trying again later`;
}

interface ServeOptions extends CommonOptions {
  pipeline?: string[];
  port: number;
  host?: string;
  schedules: boolean;
  processes?: number;
  metricsPort: number;
  tickSeconds: number;
  parallel: number;
}

export function serveCommand(): Command {
  return withCommonOptions(new Command('serve'))
    .description('serve the HTTP API (on --port) and run pipelines and their training steps on their schedules (cron each, catching up missed dates), those with trigger: landed when their data lands (bus), with /metrics')
    .option('--port <port>', 'port of the HTTP API (0 = any free port)', port('--port'), 8080)
    .option('--host <host>', 'interface the API listens on (default: every interface with API tokens configured, 127.0.0.1 without)')
    .option('--no-schedules', 'serve the API only: run no schedules')
    .option('--processes <n>', 'API processes sharing the port (default: one per core; 1 with the embedded database)', wholeNumber('--processes', 1))
    .option('--pipeline <names>', 'comma-separated pipelines to schedule (default: all)', (text: string) => text.split(',').map((name) => name.trim()).filter(Boolean))
    .option('--metrics-port <port>', 'port of /metrics and /healthz beside the API (0 = any free port)', port('--metrics-port'), 9464)
    .option('--tick-seconds <n>', 'how often schedules are checked', wholeNumber('--tick-seconds', 1), 30)
    .addOption(stepParallelOption())
    .action(async (options: ServeOptions) => {
      const { config } = await loadConfig({ file: options.config });
      // Checked before anything starts, so that a bad DETOUR_API_TOKENS fails `serve` at once.
      const tokens = apiTokens(config.api.tokens, process.env.DETOUR_API_TOKENS);
      const host = listenHost(tokens, options.host);
      const processes = servingProcesses(options.processes, config.databaseUrl);
      await serveProcess({ ...options, host }, tokens, processes);
    });
}

/** How many processes serve the API: as asked, else one per core; the embedded database belongs to one. */
function servingProcesses(asked: number | undefined, databaseUrl: string | undefined): number {
  if (databaseUrl) return asked ?? availableParallelism();
  if (asked !== undefined && asked > 1) throw new InputError(`--processes ${asked} needs a database every process shares: set DATABASE_URL=postgres://... (the embedded PGlite database belongs to one process)`);
  return 1;
}

/** Runs pipelines with `trigger: landed` as their files land, and turns storage notifications into landed events, when a bus is configured. */
async function landedConsumers(context: CliContext, services: RunServices, names: string[], parts: string[]): Promise<{ stop(): Promise<void> }[]> {
  const landed = landedPipelines(context.config, names);
  const bus = await context.bus();
  if (bus === undefined) {
    if (landed.length > 0) parts.push(`${landed.join(', ')} run when their data lands: set BUS_URL=nats://host:4222 (or bus.url) for that`);
    return [];
  }
  const { retryDelaySeconds, storageEvents } = context.config.bus;
  const consumers = [];
  if (landed.length > 0) {
    consumers.push(
      await consumeLanded(services, context.config, bus, names, {
        retryDelayMs: retryDelaySeconds * 1000,
        onOutcome: (event, outcome) => console.log(`${outcome.pipeline} ${event.date}: ${describeLanded(event.key, outcome)}`),
        onFailure: (event, pipeline, error, final) => console.error(`${pipeline} ${event.date}: ${oneLine(error)}${final ? ' (not retried)' : ` (retried in ${retryDelaySeconds} s)`}`),
        onError: (error) => console.error(`bus: ${oneLine(error)}`),
      }),
    );
    parts.push(`on landed files: ${landed.join(', ')} (${bus.description})`);
  }
  if (storageEvents) consumers.push(await consumeStorageEvents(context.lake, bus, { retryDelayMs: retryDelaySeconds * 1000, onError: (error) => console.error(`storage events: ${oneLine(error)}`) }));
  return consumers;
}

/**
 * One serving process until SIGINT or SIGTERM. The first serves the API on --port, starts the
 * others and hands each connection to the one with the fewest open (itself included), runs the
 * schedules and the metrics port; the others serve the connections handed to them.
 */
async function serveProcess(options: ServeOptions, tokens: ApiToken[], processes: number): Promise<void> {
  const first = servingProcessIndex() === 0;
  const context = await openCliContext(options);
  try {
    const runServices = () => context.services({ concurrency: options.parallel });
    if (!first) {
      const api = await startApiServer(context, { handed: true, tokens, processes, metrics: groupMemberMetrics(context.metrics), runServices });
      serveHandedConnections(api.serve);
      await Promise.race([untilSignal(), untilFirstGone()]);
      await api.close();
      return;
    }
    const group = processes > 1 ? new GroupMetrics(context.metrics) : undefined;
    const metrics = group ?? context.metrics;
    let others: ServingProcesses | undefined;
    // Until the others serve (and while one is replaced), connections stay here.
    const handOff = group && ((socket: Socket, servedHere: number) => others?.handOff(socket, servedHere) ?? false);
    const api = await startApiServer(context, { port: options.port, host: options.host, tokens, processes, metrics, runServices, handOff });
    try {
      if (group !== undefined) {
        others = await ServingProcesses.start({
          count: processes - 1,
          onStarted: (child) => group.add(child),
          onReplaced: (index, code, signal) => console.error(`detour: API process ${index + 1} exited (${signal ?? `code ${code}`}); started another`),
        });
      }
    } catch (error) {
      await api.close();
      throw error;
    }
    const parts = [`api ${api.url}${processes > 1 ? ` (${processes} processes)` : ''}${api.authenticated ? '' : ' (no API token configured: this machine only, no token asked)'}`];
    let scheduler: ReturnType<typeof pipelineScheduler> | undefined;
    let staleness: { stop(): void } | undefined;
    const consumers: { stop(): Promise<void> }[] = [];
    if (options.schedules) {
      const names = options.pipeline ?? Object.keys(context.config.pipelines);
      const services = await runServices();
      scheduler = pipelineScheduler(services, context.config, names, {
        onRun: ({ run }) => console.log(`${run.pipeline} ${run.logicalDate}: ${run.params.training === undefined ? `run ${run.id} succeeded, ${run.outliers} anomalies` : `training run ${run.id} succeeded`}`),
        onError: (pipeline, logicalDate, error) => console.error(`${pipeline} ${logicalDate ?? ''}: ${oneLine(error)}`),
      });
      parts.push(`scheduler for ${names.join(', ')} (${context.queue.kind} queue)`);
      consumers.push(...(await landedConsumers(context, services, names, parts)));
      staleness = watchStaleness(services, context.config, names, options.tickSeconds * 1000, (pipeline, error) => console.error(`${pipeline}: stale-data check: ${oneLine(error)}`));
    }
    const metricsServer = await startMetricsServer({ metrics, port: options.metricsPort });
    parts.push(`metrics ${metricsServer.url}/metrics`);
    console.log(`serving: ${parts.join(' · ')}`);
    scheduler?.start(options.tickSeconds * 1000);
    const signal = await untilSignal();
    console.log(`${signal}: stopping`);
    for (const consumer of consumers) await consumer.stop();
    await scheduler?.stop();
    staleness?.stop();
    await Promise.all([api.close(), others?.stop()]);
    await metricsServer.close();
  } finally {
    await context.close();
    // A started process's channel to the first would keep it alive.
    if (!first && process.connected) process.disconnect();
  }
}

export function workerCommand(): Command {
  return withCommonOptions(new Command('worker'))
    .description('take pipeline steps from the distributed queue (QUEUE_URL=redis://...) and run them')
    .option('--concurrency <n>', 'steps run at once', wholeNumber('--concurrency', 1), 1)
    .option('--metrics-port <port>', 'port of /metrics and /healthz (0 = any free port)', port('--metrics-port'), 9465)
    .action(async (options: CommonOptions & { concurrency: number; metricsPort: number }) => {
      const context = await openCliContext(options);
      try {
        if (context.queue.kind !== 'bullmq') {
          throw new InputError('detour worker needs a distributed queue: set QUEUE_URL=redis://host:6379 (or queueUrl in detour.yaml); without one, `detour run` executes steps itself');
        }
        // Nearly every step uses DuckDB, which loads with the first engine: here, before the first
        // step, rather than inside it (where it would add to that step's time).
        await (await openEngine()).close();
        const worker = await context.work(options.concurrency);
        const server = await startMetricsServer({ metrics: context.metrics, port: options.metricsPort });
        console.log(`worker ready: concurrency ${options.concurrency} · lake ${context.lake.url} · metrics ${server.url}/metrics`);
        const signal = await untilSignal();
        console.log(`${signal}: finishing running steps`);
        await worker.close();
        await server.close();
      } finally {
        await context.close();
      }
    });
}
