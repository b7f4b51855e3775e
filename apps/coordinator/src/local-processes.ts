// The embedded mode's processes: N `lstm-worker` processes, and a private redis-server when
// no Redis answers at the default address. Apps never import each other: the worker is
// started as a process from its bin.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactUrl, whyRedisUnreachable } from '@lstm-runner/runner';

/** The lstm-worker bin of this workspace: a process to start, never a module to import. */
export function workerBinPath(): string {
  return fileURLToPath(new URL('../../worker/bin/lstm-worker.js', import.meta.url));
}

export interface LocalWorkerSettings {
  readonly redisUrl: string;
  readonly storeUrl: string;
  readonly s3Endpoint?: string;
  readonly queuePrefix: string;
  readonly backend: string;
  readonly cacheDir: string;
  readonly extraArgs?: readonly string[];
}

export class LocalWorkers {
  private readonly children: ChildProcess[] = [];

  constructor(private readonly settings: LocalWorkerSettings) {}

  start(count: number): void {
    for (let i = 0; i < count; i++) this.spawnOne();
  }

  private spawnOne(): void {
    const s = this.settings;
    const args = [
      workerBinPath(),
      '--redis',
      s.redisUrl,
      '--store',
      s.storeUrl,
      '--queue-prefix',
      s.queuePrefix,
      '--backend',
      s.backend,
      '--cache-dir',
      s.cacheDir,
      ...(s.s3Endpoint === undefined ? [] : ['--s3-endpoint', s.s3Endpoint]),
      ...(s.extraArgs ?? []),
    ];
    // The IPC channel closes when this process dies, however it dies: the worker then leaves
    // (--exit-with-parent) instead of running on as an orphan.
    const child = spawn(process.execPath, [...args, '--exit-with-parent'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    // Workers log to stderr; keep it quiet unless asked (LSTM_WORKER_LOGS=1).
    if (process.env['LSTM_WORKER_LOGS'] === '1') child.stderr?.pipe(process.stderr);
    else child.stderr?.resume();
    this.children.push(child);
  }

  /** SIGTERM (each finishes its shard), then wait for all to exit. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export interface ReachableRedis {
  readonly url: string;
  /** Stops the redis-server this process started, if any. */
  stop(): void;
}

/**
 * The Redis at `url`, or (only when `url` is the default and nothing answers there) a
 * private redis-server started under `dir`.
 */
export async function reachRedis(url: string, isDefault: boolean, dir: string): Promise<ReachableRedis> {
  const reason = await whyRedisUnreachable(url);
  if (reason === null) return { url, stop: () => undefined };
  if (!isDefault) throw new Error(`cannot use Redis at ${redactUrl(url)}: ${reason}`);
  const found = spawnSync('redis-server', ['--version']);
  if (found.error !== undefined) {
    throw new Error(
      `no Redis answers at ${url} and redis-server is not installed: install it (Debian/Ubuntu: apt-get install -y redis-server; macOS: brew install redis) or set REDIS_URL`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const pidFile = join(dir, 'redis.pid');
  const started = spawnSync('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
    '--pidfile',
    pidFile,
    '--logfile',
    join(dir, 'redis.log'),
    '--dir',
    dir,
  ]);
  if (started.status !== 0) throw new Error(`could not start redis-server: ${started.stderr.toString().trim()}`);
  const localUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && (await whyRedisUnreachable(localUrl)) !== null; i++) await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    url: localUrl,
    stop(): void {
      if (!existsSync(pidFile)) return;
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
      } catch {
        // already gone
      }
      rmSync(pidFile, { force: true });
    },
  };
}
