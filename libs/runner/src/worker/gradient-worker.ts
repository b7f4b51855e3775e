// The gradient worker: a BullMQ worker on one numerics profile's queue whose processor hands
// shards to compute threads, so lock renewal and stalled checks keep running while the math
// runs. close() stops taking shards, finishes the ones in hand, then ends the threads.
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import {
  DEFAULT_QUEUE_PREFIX,
  formatNumericsProfile,
  gradientQueueName,
  type GradientJobData,
  type GradientJobResult,
  type NumericsProfile,
} from '@lstm-runner/protocol';
import { DEFAULT_CACHE_MAX_BYTES } from '@lstm-runner/data';
import {
  DEFAULT_HEARTBEAT_TIMINGS,
  newWorkerId,
  WorkerHeartbeat,
  type HeartbeatTimings,
  type WorkerAnnouncement,
} from '../operations/worker-registry';
import { connectRedis, redisOptionsFromUrl } from '../redis/redis-connection';
import { generationKey, QUEUE_RETENTION_SECONDS } from '../redis/redis-layout';
import type { WorkerMetrics } from '../http/runner-metrics';
import { ComputePool } from './compute-pool';
import type { InjectedCrash } from './compute-thread-messages';

export interface GradientWorkerOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly storeUrl: string;
  readonly s3Endpoint?: string;
  readonly cacheDir: string;
  /** The bound of cacheDir on disk: least recently used segments go beyond it (LSTM_CACHE_MAX_BYTES). */
  readonly cacheMaxBytes: number;
  /** The profile its compute threads compute (numericsProfileOf the backend they load); it names the queue. */
  readonly profile: NumericsProfile;
  /** How it announces itself to the coordinators (see worker-registry.ts). */
  readonly heartbeat: HeartbeatTimings;
  /** Where it counts shards and thread restarts (its /metrics), if anywhere. */
  readonly metrics?: WorkerMetrics;
  /** Shards computed at once, one compute thread each. */
  readonly concurrency: number;
  /** BullMQ lock duration; a worker silent for this long loses its shard to another. */
  readonly lockDurationMs: number;
  /** How often BullMQ looks for shards whose worker died. */
  readonly stalledIntervalMs: number;
  /** Times a shard may be taken from dead workers before it fails. */
  readonly maxStalledCount: number;
  /** Fault injection (stragglers): every shard takes this much longer. 0 in production. */
  readonly injectedShardDelayMs: number;
  /** Fault injection (stragglers on demand): a file ordering delays of the next shards (shard-delay-file.ts). */
  readonly injectedShardDelayFile?: string | undefined;
  /** Fault injection: the process dies of SIGSEGV when it computes this training shard. */
  readonly injectedCrash?: InjectedCrash | undefined;
  readonly log: (line: string) => void;
}

export const DEFAULT_GRADIENT_WORKER_OPTIONS = {
  prefix: DEFAULT_QUEUE_PREFIX,
  concurrency: 1,
  lockDurationMs: 30_000,
  stalledIntervalMs: 30_000,
  // A shard may outlive one dead worker; the second death fails it (see the dispatcher).
  maxStalledCount: 1,
  injectedShardDelayMs: 0,
  cacheMaxBytes: DEFAULT_CACHE_MAX_BYTES,
  heartbeat: DEFAULT_HEARTBEAT_TIMINGS,
  log: (): void => undefined,
} satisfies Partial<GradientWorkerOptions>;

export type GradientWorkerInput = Partial<GradientWorkerOptions> &
  Pick<GradientWorkerOptions, 'redisUrl' | 'storeUrl' | 'cacheDir' | 'profile'>;

export function validateGradientWorkerOptions(options: GradientWorkerOptions): GradientWorkerOptions {
  const positive = ['concurrency', 'lockDurationMs', 'stalledIntervalMs', 'maxStalledCount', 'cacheMaxBytes'] as const;
  for (const name of positive) {
    const value = options[name];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`worker option ${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(options.injectedShardDelayMs) || options.injectedShardDelayMs < 0) {
    throw new RangeError(`worker option injectedShardDelayMs must be a non-negative integer, got ${options.injectedShardDelayMs}`);
  }
  return options;
}

export class GradientWorker {
  private readonly options: GradientWorkerOptions;
  private readonly pool: ComputePool;
  private readonly redis: Redis;
  private worker: Worker | undefined;
  private closing: Promise<void> | undefined;
  private heartbeat: WorkerHeartbeat | undefined;
  readonly id = newWorkerId();
  private readonly startedAt = new Date().toISOString();
  private description = '';
  private shardsDone = 0;
  private readonly inHand = new Map<string, string>();

  constructor(options: GradientWorkerInput) {
    this.options = validateGradientWorkerOptions({ ...DEFAULT_GRADIENT_WORKER_OPTIONS, ...options });
    const { storeUrl, s3Endpoint, cacheDir, cacheMaxBytes, profile, injectedShardDelayMs, injectedShardDelayFile, injectedCrash, log } =
      this.options;
    this.pool = new ComputePool({
      size: this.options.concurrency,
      thread: {
        storeUrl,
        cacheDir,
        cacheMaxBytes,
        profile,
        injectedShardDelayMs,
        ...(injectedShardDelayFile === undefined ? {} : { injectedShardDelayFile }),
        ...(injectedCrash === undefined ? {} : { injectedCrash }),
        ...(s3Endpoint === undefined ? {} : { s3Endpoint }),
      },
      ...(this.options.metrics === undefined
        ? {}
        : { onBytesMoved: this.options.metrics.countBytes, onSegmentLookups: this.options.metrics.countSegmentLookups }),
      onThreadDeath: (reason) => {
        this.options.metrics?.threadRestarts.inc();
        log(`${reason}; its shard fails over and a new thread takes its place`);
      },
    });
    this.redis = connectRedis(this.options.redisUrl);
  }

  get queueName(): string {
    return gradientQueueName(this.options.profile);
  }

  /** Loads the backend in every compute thread, then starts taking shards. Returns the backend's description. */
  async start(): Promise<string> {
    const description = await this.pool.ready();
    this.description = description;
    const { options } = this;
    this.worker = new Worker(this.queueName, (job: Job<GradientJobData>) => this.process(job), {
      connection: redisOptionsFromUrl(options.redisUrl),
      prefix: options.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
      // Results are read by the coordinator, which removes the jobs after each step.
      removeOnComplete: { age: QUEUE_RETENTION_SECONDS },
      removeOnFail: { age: QUEUE_RETENTION_SECONDS },
    });
    this.worker.on('error', (error) => options.log(`worker error: ${error.message}`));
    this.worker.on('failed', (job, error) => {
      if (job !== undefined) options.log(`shard ${job.id ?? '?'} failed (attempt ${job.attemptsMade}): ${error.message}`);
    });
    this.heartbeat = new WorkerHeartbeat(this.redis, options.prefix, () => this.announcement(), options.heartbeat);
    await this.heartbeat.start();
    return description;
  }

  /** True once the compute threads loaded their backend and the BullMQ worker runs. */
  get started(): boolean {
    return this.worker !== undefined;
  }

  /** What this worker serves and does, as the coordinators and the dashboard see it. */
  announcement(): WorkerAnnouncement {
    return {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      profile: formatNumericsProfile(this.options.profile),
      backend: this.description,
      concurrency: this.options.concurrency,
      startedAt: this.startedAt,
      seenAt: new Date().toISOString(),
      shardsDone: this.shardsDone,
      current: [...this.inHand].map(([taskId, since]) => ({ taskId, since })),
    };
  }

  private async process(job: Job<GradientJobData>): Promise<GradientJobResult> {
    const current = await this.redis.get(generationKey(this.options.prefix, job.data.jobId));
    if (current !== String(job.data.generation)) return { kind: 'dropped' };
    const id = job.id ?? '?';
    const { metrics } = this.options;
    const stopTimer = metrics?.shardSeconds.startTimer({ kind: job.data.kind });
    this.inHand.set(id, new Date().toISOString());
    this.heartbeat?.beatNow();
    try {
      const result = await this.pool.compute(job.data);
      this.shardsDone += 1;
      metrics?.shards.inc({ kind: job.data.kind, outcome: 'done' });
      return result;
    } catch (error) {
      metrics?.shards.inc({ kind: job.data.kind, outcome: 'failed' });
      throw error;
    } finally {
      stopTimer?.();
      this.inHand.delete(id);
      this.heartbeat?.beatNow();
    }
  }

  /** Stops taking shards, finishes those in hand, frees everything. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker?.close();
      await this.heartbeat?.stop();
      await this.pool.close();
      this.redis.disconnect();
    })();
    return this.closing;
  }
}
