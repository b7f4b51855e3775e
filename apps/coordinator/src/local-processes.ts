// The embedded mode's processes: N `lstm-worker` processes, and a private redis-server when
// no Redis answers at the default address. Apps never import each other: the worker is
// started as a process from its bin.
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
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
  readonly threads: number;
  readonly cacheDir: string;
  readonly extraArgs?: readonly string[];
  /** Called once when every worker has exited without being asked to, with the last one's last error line. */
  readonly onAllExited?: (reason: string) => void;
}

export class LocalWorkers {
  private readonly children: ChildProcess[] = [];
  private stopping = false;
  private exited = 0;

  constructor(private readonly settings: LocalWorkerSettings) {}

  start(count: number): void {
    for (let i = 0; i < count; i++) this.spawnOne();
  }

  private spawnOne(): void {
    const s = this.settings;
    const args = [
      workerBinPath(),
      '--store',
      s.storeUrl,
      '--queue-prefix',
      s.queuePrefix,
      '--backend',
      s.backend,
      '--threads',
      String(s.threads),
      '--cache-dir',
      s.cacheDir,
      ...(s.s3Endpoint === undefined ? [] : ['--s3-endpoint', s.s3Endpoint]),
      ...(s.extraArgs ?? []),
    ];
    // The IPC channel closes when this process dies, however it dies: the worker then leaves
    // (--exit-with-parent) instead of running on as an orphan.
    // The Redis URL (a private server's password in it) goes through the environment, never
    // the command line, which every local user can read with ps.
    const child = spawn(process.execPath, [...args, '--exit-with-parent'], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, REDIS_URL: s.redisUrl },
    });
    // Workers log to stderr; keep it quiet unless asked (LSTM_WORKER_LOGS=1), but keep the
    // last line: it says why a worker that could not start left.
    let lastLine = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = chunk.toString().trim().split('\n');
      lastLine = sentenceOf(lines[lines.length - 1] ?? lastLine);
      if (process.env['LSTM_WORKER_LOGS'] === '1') process.stderr.write(chunk);
    });
    child.once('exit', (code, signal) => {
      this.exited += 1;
      if (!this.stopping && this.exited === this.children.length) {
        this.settings.onAllExited?.(lastLine || `exit code ${code ?? signal ?? '?'}`);
      }
    });
    this.children.push(child);
  }

  /** SIGTERM (each finishes its shard), then wait for all to exit. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
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

/** The sentence of a worker's log line, text or JSON (--log-format json). */
function sentenceOf(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const { message } = JSON.parse(line) as { message?: unknown };
    return typeof message === 'string' ? message : line;
  } catch {
    return line;
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
 * private redis-server with a random password, tied to this process's life by a watchdog.
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
  const password = randomBytes(18).toString('base64url');
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    'save ""',
    'appendonly no',
    `dir ${dir}`,
    `logfile ${join(dir, 'redis.log')}`,
    `requirepass ${password}`,
  ].join('\n');
  const watchdog = fork(fileURLToPath(new URL('./private-redis-watchdog.mjs', import.meta.url)), [], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let watchdogError = '';
  watchdog.stderr?.on('data', (chunk: Buffer) => (watchdogError += chunk.toString()));
  watchdog.send({ config });
  // The watchdog must not keep this process alive, nor this process wait for it.
  watchdog.unref();
  watchdog.channel?.unref();
  const localUrl = `redis://:${password}@127.0.0.1:${port}`;
  for (let i = 0; i < 50 && (await whyRedisUnreachable(localUrl)) !== null; i++) {
    if (watchdog.exitCode !== null)
      throw new Error(`could not start redis-server: ${watchdogError.trim() || `exit code ${watchdog.exitCode}`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: localUrl,
    stop(): void {
      if (watchdog.exitCode === null) watchdog.kill('SIGTERM');
    },
  };
}
