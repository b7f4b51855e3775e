// Real servers for integration tests: a private redis-server and an s3rver, each on a free
// loopback port, stopped afterwards. A private Redis lets a test kill and replace it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  /** SIGKILL the server: everything it held is gone. */
  kill(): void;
  /** Stop it (if running) and remove its directory. Idempotent. */
  stop(): void;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Starts `redis-server` on `port` (a free one when omitted), with no persistence, and
 * `password` required when given.
 */
export async function startRedisServer(port?: number, password?: string): Promise<RedisServerHandle> {
  const chosenPort = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'lstm-redis-'));
  const pidFile = join(dir, 'redis.pid');
  const result = spawnSync('redis-server', [
    '--port', String(chosenPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--daemonize', 'yes', '--pidfile', pidFile, '--logfile', join(dir, 'redis.log'), '--dir', dir,
    ...(password === undefined ? [] : ['--requirepass', password]),
  ]);
  if (result.error !== undefined || result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not start redis-server (${result.error?.message ?? result.stderr.toString().trim()}); ` +
        'install it with: apt-get install -y redis-server',
    );
  }
  for (let i = 0; i < 100 && !existsSync(pidFile); i++) sleepMs(20);
  let stopped = false;
  const kill = (): void => {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
        sleepMs(20);
      } catch {
        break;
      }
    }
    rmSync(pidFile, { force: true });
  };
  return {
    url: password === undefined ? `redis://127.0.0.1:${chosenPort}` : `redis://:${encodeURIComponent(password)}@127.0.0.1:${chosenPort}`,
    port: chosenPort,
    kill,
    stop(): void {
      if (stopped) return;
      stopped = true;
      kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface S3ServerHandle {
  readonly endpoint: string;
  readonly bucket: string;
  stop(): Promise<void>;
}

/** Starts s3rver on a free port with one bucket, `lstm-test`. */
export async function startS3Server(): Promise<S3ServerHandle> {
  const { default: S3rver } = await import('s3rver');
  const directory = mkdtempSync(join(tmpdir(), 'lstm-s3-'));
  const bucket = 'lstm-test';
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory, configureBuckets: [{ name: bucket }] });
  const address = (await server.run()) as { port: number };
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    bucket,
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
