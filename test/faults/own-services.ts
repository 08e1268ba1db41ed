/**
 * A PostgreSQL and a Redis of a fault test's own, in temp folders on free ports, that the test may
 * stop, kill and start again without disturbing the machine's shared servers (which other test
 * files use in parallel).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** Where initdb and pg_ctl are: POSTGRES_BIN, else the newest Debian-style install, else the PATH. */
const POSTGRES_BIN = process.env.POSTGRES_BIN ?? newestDebianPostgres() ?? '';

function newestDebianPostgres(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const [newest] = readdirSync(root).filter((version) => existsSync(path.join(root, version, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return newest === undefined ? undefined : path.join(root, newest, 'bin');
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until `probe` resolves true, for at most `timeoutMs`. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}

/** A PostgreSQL cluster (initdb) in a temp folder, trust auth, listening on 127.0.0.1 only. */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    private readonly dataDir: string,
  ) {}

  /** PostgreSQL refuses to run as root: as root, its tools run as the `postgres` user. */
  private static async asServerUser(command: string, args: string[]): Promise<void> {
    const asRoot = process.getuid?.() === 0;
    await run(asRoot ? 'runuser' : command, asRoot ? ['-u', 'postgres', '--', command, ...args] : args);
  }

  static async create(): Promise<OwnPostgres> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'detour-fault-pg-'));
    if (process.getuid?.() === 0) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      await chown(dataDir, Number(stdout), Number(group));
    }
    await OwnPostgres.asServerUser(path.join(POSTGRES_BIN, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']);
    const server = new OwnPostgres(await freePort(), dataDir);
    await server.start();
    return server;
  }

  /** A connection URL to `database` on this server. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
    await OwnPostgres.asServerUser(path.join(POSTGRES_BIN, 'pg_ctl'), ['-D', this.dataDir, '-o', options, '-l', path.join(this.dataDir, 'server.log'), '-w', 'start']);
  }

  /** `immediate` is a crash as far as clients can tell: connections drop without goodbye. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await OwnPostgres.asServerUser(path.join(POSTGRES_BIN, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** A redis-server that keeps nothing on disk: restarted, it is empty, as in production without persistence. */
export class OwnRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async create(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), await mkdtemp(path.join(os.tmpdir(), 'detour-fault-redis-')));
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: 'ignore' });
    await until('redis-server', async () => (await run('redis-cli', ['-p', String(this.port), 'ping'])).stdout.trim() === 'PONG');
  }

  /** Kills the server as a crash or a container restart would: whatever it held is gone. */
  async kill(): Promise<void> {
    const killed = this.process;
    this.process = undefined;
    if (killed === undefined || killed.exitCode !== null) return;
    killed.kill('SIGKILL');
    await once(killed, 'exit');
  }

  async destroy(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}
