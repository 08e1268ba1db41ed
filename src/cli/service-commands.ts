import { Command } from 'commander';
import { InputError, oneLine } from '../errors.js';
import { startMetricsServer } from '../observability/index.js';
import { consumeLanded, consumeStorageEvents, landedPipelines, pipelineScheduler, type LandedOutcome } from '../pipeline/index.js';
import { openCliContext, withCommonOptions, type CommonOptions } from './context.js';
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

export function serveCommand(): Command {
  return withCommonOptions(new Command('serve'))
    .description('run pipelines and their training steps on their schedules (cron each, catching up missed dates), those with trigger: landed when their data lands (bus), and serve /metrics')
    .option('--pipeline <names>', 'comma-separated pipelines to schedule (default: all)', (text: string) => text.split(',').map((name) => name.trim()).filter(Boolean))
    .option('--metrics-port <port>', 'port of /metrics and /healthz (0 = any free port)', port('--metrics-port'), 9464)
    .option('--tick-seconds <n>', 'how often schedules are checked', wholeNumber('--tick-seconds', 1), 30)
    .addOption(stepParallelOption())
    .action(async (options: CommonOptions & { pipeline?: string[]; metricsPort: number; tickSeconds: number; parallel: number }) => {
      const context = await openCliContext(options);
      try {
        const names = options.pipeline ?? Object.keys(context.config.pipelines);
        const services = await context.services({ concurrency: options.parallel });
        const scheduler = pipelineScheduler(services, context.config, names, {
          onRun: ({ run }) => console.log(`${run.pipeline} ${run.logicalDate}: ${run.params.training === undefined ? `run ${run.id} succeeded, ${run.outliers} anomalies` : `training run ${run.id} succeeded`}`),
          onError: (pipeline, logicalDate, error) => console.error(`${pipeline} ${logicalDate ?? ''}: ${oneLine(error)}`),
        });
        const landed = landedPipelines(context.config, names);
        const bus = await context.bus();
        const { retryDelaySeconds, storageEvents } = context.config.bus;
        const consumers = [];
        if (bus !== undefined && landed.length > 0) {
          consumers.push(
            await consumeLanded(services, context.config, bus, names, {
              retryDelayMs: retryDelaySeconds * 1000,
              onOutcome: (event, outcome) => console.log(`${outcome.pipeline} ${event.date}: ${describeLanded(event.key, outcome)}`),
              onFailure: (event, pipeline, error, final) => console.error(`${pipeline} ${event.date}: ${oneLine(error)}${final ? ' (not retried)' : ` (retried in ${retryDelaySeconds} s)`}`),
              onError: (error) => console.error(`bus: ${oneLine(error)}`),
            }),
          );
        }
        if (bus !== undefined && storageEvents) consumers.push(await consumeStorageEvents(context.lake, bus, { retryDelayMs: retryDelaySeconds * 1000, onError: (error) => console.error(`storage events: ${oneLine(error)}`) }));
        const server = await startMetricsServer({ metrics: context.metrics, port: options.metricsPort });
        const onLanded = landed.length === 0 ? '' : bus === undefined ? ` · ${landed.join(', ')} run when their data lands: set BUS_URL=nats://host:4222 (or bus.url) for that` : ` · on landed files: ${landed.join(', ')} (${bus.description})`;
        console.log(`serving: scheduler for ${names.join(', ')} (${context.queue.kind} queue)${onLanded} · metrics ${server.url}/metrics`);
        scheduler.start(options.tickSeconds * 1000);
        const signal = await untilSignal();
        console.log(`${signal}: stopping`);
        for (const consumer of consumers) await consumer.stop();
        await scheduler.stop();
        await server.close();
      } finally {
        await context.close();
      }
    });
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
