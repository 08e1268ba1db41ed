/**
 * `detour serve` on several cores: the first process listens on the API's port, starts the others
 * (the same command, forked) and, for each connection it accepts, serves it or hands it to another
 * over their IPC channel: to the process with the fewest open connections. The kernel, left to
 * spread keep-alive connections over processes accepting from one socket, often gives all of a
 * few to one process while another idles. No process sits idle supervising: the first also
 * serves, runs the schedules and the metrics port, forwards SIGTERM, and replaces a process that
 * dies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

/** Which serving process this is: unset (0) for the one started by hand, 1, 2, ... for those it started. */
const INDEX_VARIABLE = 'DETOUR_SERVE_PROCESS';
/** IPC message types: a started process serves (other → first), a connection to serve (first → other, with the socket), one it served closed (other → first). */
const SERVING = 'detour:serving';
const CONNECTION = 'detour:connection';
const CONNECTION_CLOSED = 'detour:connection-closed';

function isMessage(message: unknown, type: string): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** This process's place among the serving processes: 0 for the first, which starts the others. */
export function servingProcessIndex(): number {
  return Number(process.env[INDEX_VARIABLE] ?? 0);
}

/** In a started process: serves with `serve` the connections the first one hands over, telling it as each closes, and tells it this process serves. */
export function serveHandedConnections(serve: (socket: Socket) => void): void {
  const reportClosed = () => {
    if (process.connected) process.send?.({ type: CONNECTION_CLOSED });
  };
  process.on('message', (message: unknown, socket: Socket | undefined) => {
    if (!isMessage(message, CONNECTION)) return;
    // A connection that closed on its way comes without its socket: still counted by the first.
    if (socket === undefined) reportClosed();
    else {
      socket.once('close', reportClosed);
      serve(socket);
    }
  });
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
  /** Each process as it starts (again after a replacement), e.g. for its metrics. */
  onStarted(child: ChildProcess): void;
  /** A process died after it served; another takes its place. */
  onReplaced(index: number, exitCode: number | null, signal: string | null): void;
}

/** The processes the first serving process started. */
export class ServingProcesses {
  private readonly children = new Set<ChildProcess>();
  /** Those serving now, with the connections each has open; a replacement joins once it serves. */
  private readonly openConnections = new Map<ChildProcess, number>();
  /** The process the last connection went to: 0 this one, 1... the serving others in order; ties take turns after it. */
  private lastChosen = 0;
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

  /**
   * For a connection this process just accepted (paused, so that none of its bytes is read here):
   * hands it to the serving process with the fewest open connections, ties taking turns, and says
   * whether it did; false when this one (`servedHere` open) should serve it.
   */
  handOff(socket: Socket, servedHere: number): boolean {
    if (this.stopping) return false;
    const serving = [...this.openConnections];
    const count = serving.length + 1;
    let chosen = 0;
    let fewest = Infinity;
    for (let step = 1; step <= count; step++) {
      const candidate = (this.lastChosen + step) % count;
      const open = candidate === 0 ? servedHere : serving[candidate - 1][1];
      if (open < fewest) {
        fewest = open;
        chosen = candidate;
      }
    }
    this.lastChosen = chosen;
    if (chosen === 0) return false;
    const [child, open] = serving[chosen - 1];
    this.openConnections.set(child, open + 1);
    // A failed send closed the socket (its client sees a reset): the process is exiting, and is replaced.
    child.send({ type: CONNECTION }, socket, () => {});
    return true;
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
        if (isMessage(message, CONNECTION_CLOSED)) {
          const open = this.openConnections.get(child);
          if (open !== undefined) this.openConnections.set(child, open - 1);
        }
        if (isMessage(message, SERVING)) {
          serving = true;
          this.openConnections.set(child, 0);
          resolve();
        }
      });
      // A socket sent on a closed channel would stay with no one: none goes to a process on its way out.
      child.once('disconnect', () => this.openConnections.delete(child));
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
