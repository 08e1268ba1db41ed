/**
 * `detour serve` on several cores: the first process listens on the API's port and hands its
 * listening socket to the processes it starts (the same command, forked); each then accepts
 * connections from that one socket, the kernel spreading them. No process sits idle supervising:
 * the first also serves, runs the schedules and the metrics port, forwards SIGTERM, and replaces
 * a process that dies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:net';

/** Which serving process this is: unset (0) for the one started by hand, 1, 2, ... for those it started. */
const INDEX_VARIABLE = 'DETOUR_SERVE_PROCESS';
const WANT_SOCKET = 'detour:api-socket?';
const SOCKET = 'detour:api-socket';
const SERVING = 'detour:serving';

function isMessage(message: unknown, type: string): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** This process's place among the serving processes: 0 for the first, which starts the others. */
export function servingProcessIndex(): number {
  return Number(process.env[INDEX_VARIABLE] ?? 0);
}

/** In a started process: the first one's listening socket, asked for and handed over. */
export function receiveApiSocket(): Promise<Server> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown, handle: unknown) => {
      if (!isMessage(message, SOCKET)) return;
      process.off('message', onMessage);
      resolve(handle as Server);
    };
    process.on('message', onMessage);
    process.send?.({ type: WANT_SOCKET });
  });
}

/** In a started process: tells the first one it serves. */
export function reportServing(): void {
  process.send?.({ type: SERVING });
}

/** In a started process: resolves when the first one is gone (killed without a chance to stop the others), so that none is left serving alone. */
export function untilFirstGone(): Promise<string> {
  return new Promise((resolve) => {
    if (!process.connected) resolve('the first serving process is gone');
    else process.once('disconnect', () => resolve('the first serving process is gone'));
  });
}

export interface ServingProcessesOptions {
  /** Processes to start besides this one. */
  count: number;
  /** The API's listening server, handed to each. */
  socket: Server;
  /** Each process as it starts (again after a replacement), e.g. for its metrics. */
  onStarted(child: ChildProcess): void;
  /** A process died after it served; another takes its place. */
  onReplaced(index: number, exitCode: number | null, signal: string | null): void;
}

/** The processes the first serving process started. */
export class ServingProcesses {
  private readonly children = new Set<ChildProcess>();
  private stopping = false;

  private constructor(private readonly options: ServingProcessesOptions) {}

  /**
   * Starts `options.count` processes and resolves once each serves.
   *
   * @throws Error when one exits before it serves (it said why on stderr); the others are stopped.
   */
  static async start(options: ServingProcessesOptions): Promise<ServingProcesses> {
    const group = new ServingProcesses(options);
    try {
      await Promise.all(Array.from({ length: options.count }, (_, offset) => group.fork(offset + 1)));
    } catch (error) {
      await group.stop();
      throw error;
    }
    return group;
  }

  /** SIGTERM to each; resolves once every one has finished its requests and exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  }

  /** The same command with this process's arguments, as serving process `index`. */
  private fork(index: number): Promise<void> {
    const child = fork(process.argv[1], process.argv.slice(2), { env: { ...process.env, [INDEX_VARIABLE]: String(index) }, execArgv: process.execArgv });
    this.children.add(child);
    this.options.onStarted(child);
    return new Promise((resolve, reject) => {
      let serving = false;
      child.on('message', (message: unknown) => {
        if (isMessage(message, WANT_SOCKET)) child.send({ type: SOCKET }, this.options.socket);
        if (isMessage(message, SERVING)) {
          serving = true;
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        this.children.delete(child);
        if (this.stopping) return;
        if (!serving) {
          reject(new Error(`API process ${index + 1} exited (${signal ?? `code ${code}`}) before it served`));
          return;
        }
        this.options.onReplaced(index, code, signal);
        // A replacement that cannot start said why on stderr; the others keep serving.
        this.fork(index).catch(() => {});
      });
    });
  }
}
