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
  /** The certificate a TLS server presents (self-signed); unused without TLS. */
  readonly caFile: string;
  readonly port: number;
  /** SIGKILL the server: everything it held is gone. */
  kill(): void;
  /** Stop it (if running) and remove its directory. Idempotent. */
  stop(): void;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface RedisServerOptions {
  /** A password clients must give. */
  readonly password?: string;
  /** Serve TLS only, with a self-signed certificate made for 127.0.0.1 (see caFile). */
  readonly tls?: boolean;
}

/**
 * Starts `redis-server` on `port` (a free one when omitted), with no persistence. With TLS
 * the URL is rediss:// and clients must trust `caFile` (NODE_EXTRA_CA_CERTS).
 */
export async function startRedisServer(port?: number, options: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const { password, tls = false } = options;
  const chosenPort = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'lstm-redis-'));
  const pidFile = join(dir, 'redis.pid');
  const caFile = join(dir, 'cert.pem');
  if (tls) {
    const made = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      caFile,
    ]);
    if (made.status !== 0) throw new Error(`openssl could not make a test certificate: ${made.stderr.toString().trim()}`);
  }
  const listen = tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(chosenPort),
        '--tls-cert-file',
        caFile,
        '--tls-key-file',
        join(dir, 'key.pem'),
        '--tls-auth-clients',
        'no',
      ]
    : ['--port', String(chosenPort)];
  const result = spawnSync('redis-server', [
    ...listen,
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
  const scheme = tls ? 'rediss' : 'redis';
  return {
    url: `${scheme}://${password === undefined ? '' : `:${encodeURIComponent(password)}@`}127.0.0.1:${chosenPort}`,
    caFile,
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
