/**
 * `detour serve` on several cores: node:cluster processes sharing the API's port (the primary
 * accepts connections and hands them round-robin to the workers). The primary only supervises:
 * it forks the workers (the first one also runs the schedules), gathers their metrics, forwards
 * SIGTERM and waits for them to finish their requests, and replaces a worker that dies.
 */
import cluster, { type Worker } from 'node:cluster';
import { answerClusterMetrics } from '../observability/index.js';

/** Which worker this process is, from 0; the first runs the schedules. */
const INDEX_VARIABLE = 'DETOUR_SERVE_PROCESS';
const READY = 'detour:serve-ready';

/** What a worker reports once it serves. */
export interface ServingReport {
  index: number;
  api: string;
  /** The worker that runs the schedules: what it schedules, and where its metrics port serves. */
  schedules?: string;
  metrics?: string;
}

/** This process's index in a `detour serve` cluster: undefined in the primary or a process of its own. */
export function servingProcessIndex(): number | undefined {
  return cluster.isWorker ? Number(process.env[INDEX_VARIABLE]) : undefined;
}

/** A worker tells the primary it serves. */
export function reportServing(report: ServingReport): void {
  process.send?.({ type: READY, report });
}

export interface SuperviseOptions {
  processes: number;
  /** Once every worker serves. */
  onServing(reports: ServingReport[]): void;
  /** On the primary's first SIGINT or SIGTERM, before it is forwarded. */
  onStopping(signal: string): void;
  /** A worker died after it served; another takes its place. */
  onReplaced(index: number, exitCode: number | null, signal: string | null): void;
}

function isReadyMessage(message: unknown): message is { type: string; report: ServingReport } {
  return typeof message === 'object' && message !== null && (message as { type?: string }).type === READY;
}

/**
 * The primary's side: forks the workers (re-running this command, as node:cluster does) and
 * supervises them until they have all exited after a signal, or one failed before serving.
 * Resolves with the exit code: 0, or the first failing worker's.
 */
export function superviseServingProcesses(options: SuperviseOptions): Promise<number> {
  answerClusterMetrics();
  const reports = new Map<number, ServingReport>();
  const workers = new Map<Worker, number>();
  let stopping = false;
  let exitCode = 0;
  return new Promise((resolve) => {
    const fork = (index: number) => {
      const worker = cluster.fork({ [INDEX_VARIABLE]: String(index) });
      workers.set(worker, index);
      let serving = false;
      worker.on('message', (message: unknown) => {
        if (!isReadyMessage(message)) return;
        serving = true;
        const first = reports.size < options.processes && !reports.has(index);
        reports.set(index, message.report);
        if (first && reports.size === options.processes) options.onServing([...reports.values()].sort((a, b) => a.index - b.index));
      });
      worker.on('exit', (code, signal) => {
        workers.delete(worker);
        if (!stopping && serving) {
          options.onReplaced(index, code, signal);
          fork(index);
          return;
        }
        if (!stopping) {
          // It could not start (a port in use, a bad config): it said why; the others stop too.
          exitCode = code ?? 1;
          stop();
        }
        if (workers.size === 0) resolve(exitCode);
      });
    };
    const stop = () => {
      stopping = true;
      for (const worker of workers.keys()) worker.process.kill('SIGTERM');
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (stopping) return;
        options.onStopping(signal);
        stop();
      });
    }
    for (let index = 0; index < options.processes; index++) fork(index);
  });
}
