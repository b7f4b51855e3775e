// The `lstm coordinator` service: takes job runs from the control queue (`lstm train` and
// `lstm resume` put them there) and, at start, picks up jobs left running or queued whose
// lease has expired, and restores the store's schedules into Redis (it processes their
// firings too). Several jobs run at once; each is owned through its lease, so several
// services can share one Redis and store.
import { Queue, Worker, type Job } from 'bullmq';
import { CONTROL_QUEUE_NAME, formatNumericsProfile, formatProfileFamily } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { isFinalState, listJobIds, readJobPointer } from '@lstm-runner/job-store';
import { connectRedis, redisOptionsFromUrl } from '../redis/redis-connection';
import { FAILED_RUN_RETENTION_SECONDS, leaseKey } from '../redis/redis-layout';
import { Coordinator, type CoordinatorOptions } from '../training/coordinator';
import { DEFAULT_LEASE_OPTIONS } from '../training/job-lease';
import type { JobOutcome } from '../training/training-loop';
import { meteredStore } from '../http/metered-store';
import type { CoordinatorMetrics } from '../http/runner-metrics';
import { ClusterReader } from './cluster-reader';
import { ScheduleRunner } from './schedules';

export interface RunJobRequest {
  readonly jobId: string;
}

export interface CoordinatorServiceOptions {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  readonly prefix: string;
  /** Jobs run at once by this service. */
  readonly concurrency: number;
  readonly coordinator: Partial<Omit<CoordinatorOptions, 'store' | 'redisUrl' | 'prefix' | 'log'>>;
  /** Endpoint for s3:// data sources of scheduled firings; default S3_ENDPOINT. */
  readonly s3Endpoint?: string;
  /** The most workers /scaling asks for per profile. */
  readonly maxDesiredWorkers?: number;
  readonly metrics?: CoordinatorMetrics;
  readonly log: (line: string) => void;
}

/** What /scaling answers: the workers the running jobs can keep busy, per profile family. */
export interface ScalingReport {
  readonly profiles: Readonly<Record<string, { readonly desiredWorkers: number; readonly runningJobs: number }>>;
  readonly desiredWorkers: number;
}

export const DEFAULT_MAX_DESIRED_WORKERS = 64;

/** Times a job run may be given back by services that died holding it: no limit in practice. */
const CONTROL_RUN_MAX_STALLS = 1_000_000;

/** Puts a run of the job on the control queue; a service picks it up. */
export async function enqueueJobRun(redisUrl: string, prefix: string, jobId: string): Promise<void> {
  const queue = new Queue<RunJobRequest>(CONTROL_QUEUE_NAME, { connection: redisOptionsFromUrl(redisUrl), prefix });
  try {
    // The id makes a second request for a job already waiting a no-op.
    await queue.add(
      'run',
      { jobId },
      { jobId: `run-${jobId}`, removeOnComplete: true, removeOnFail: { age: FAILED_RUN_RETENTION_SECONDS } },
    );
  } finally {
    await queue.close();
  }
}

export class CoordinatorService {
  private readonly options: CoordinatorServiceOptions;
  private readonly coordinator: Coordinator;
  private readonly schedules: ScheduleRunner;
  private worker: Worker<RunJobRequest, JobOutcome> | undefined;
  private readonly leaseTtlMs: number;
  private readonly queueDepths: ClusterReader | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: CoordinatorServiceOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new RangeError(`coordinator concurrency must be a positive integer, got ${options.concurrency}`);
    }
    const { metrics } = options;
    // With metrics, every byte of weights and gradients this service moves is counted.
    const store = metrics === undefined ? options.store : meteredStore(options.store, metrics.countBytes);
    this.options = { ...options, store };
    this.leaseTtlMs = options.coordinator.lease?.ttlMs ?? DEFAULT_LEASE_OPTIONS.ttlMs;
    this.coordinator = new Coordinator({
      ...options.coordinator,
      ...(metrics === undefined ? {} : { metrics }),
      store,
      redisUrl: options.redisUrl,
      prefix: options.prefix,
      log: options.log,
      ...(options.s3Endpoint === undefined ? {} : { s3Endpoint: options.s3Endpoint }),
    });
    const { redisUrl, prefix, s3Endpoint, log } = options;
    if (metrics !== undefined) {
      const depths = new ClusterReader(redisUrl, prefix);
      this.queueDepths = depths;
      metrics.observeQueues(() => depths.depths(this.coordinator.runningJobs().map((job) => formatNumericsProfile(job.profile))));
    }
    this.schedules = new ScheduleRunner({
      store,
      redisUrl,
      prefix,
      s3Endpoint,
      log,
      submitJob: (jobId) => enqueueJobRun(redisUrl, prefix, jobId),
    });
  }

  /**
   * Per profile family (the profile without its build: what a worker deployment serves), the
   * shards per step of the running jobs, capped: a worker more than that would sit idle.
   */
  scaling(): ScalingReport {
    const cap = this.options.maxDesiredWorkers ?? DEFAULT_MAX_DESIRED_WORKERS;
    const profiles: Record<string, { desiredWorkers: number; runningJobs: number }> = {};
    for (const job of this.coordinator.runningJobs()) {
      const entry = (profiles[formatProfileFamily(job.profile)] ??= { desiredWorkers: 0, runningJobs: 0 });
      entry.desiredWorkers = Math.min(cap, entry.desiredWorkers + job.shardsPerStep);
      entry.runningJobs += 1;
    }
    const desiredWorkers = Object.values(profiles).reduce((sum, entry) => sum + entry.desiredWorkers, 0);
    return { profiles, desiredWorkers };
  }

  async start(): Promise<void> {
    const { options } = this;
    this.worker = new Worker<RunJobRequest, JobOutcome>(
      CONTROL_QUEUE_NAME,
      (job: Job<RunJobRequest>) =>
        // A job whose lease is still held after two lease lifetimes has a live coordinator.
        this.coordinator.runJob(job.data.jobId, { leaseWaitMs: 2 * this.leaseTtlMs }),
      {
        connection: redisOptionsFromUrl(options.redisUrl),
        prefix: options.prefix,
        concurrency: options.concurrency,
        // A run only names a job, whose lease and fencing make running it twice harmless. A
        // service that dies with runs in hand must not keep them: they go back to the queue
        // within two lease lifetimes, however many services died before. (BullMQ's defaults
        // took 30-60 s, and failed a run whose services died twice: a job nobody resumed.)
        lockDuration: this.leaseTtlMs,
        stalledInterval: this.leaseTtlMs,
        maxStalledCount: CONTROL_RUN_MAX_STALLS,
      },
    );
    this.worker.on('error', (error) => options.log(`control queue: ${error.message}`));
    this.worker.on('completed', (job, outcome) => {
      if (isFinalState(outcome.state)) options.metrics?.jobsFinished.inc({ state: outcome.state });
      options.log(`job ${job.data.jobId}: ${outcome.state}${outcome.message === undefined ? '' : ` (${outcome.message})`}`);
    });
    this.worker.on('failed', (job, error) => options.log(`job ${job?.data.jobId ?? '?'}: coordinator error: ${error.message}`));
    await this.pickUpOrphans();
    await this.schedules.start();
  }

  /**
   * Jobs left running or queued are run again. One whose coordinator died still has its
   * lease for up to a lease lifetime: its run waits for the lease (up to two lifetimes).
   */
  private async pickUpOrphans(): Promise<void> {
    const redis = connectRedis(this.options.redisUrl);
    try {
      for (const jobId of await listJobIds(this.options.store)) {
        const pointer = await readJobPointer(this.options.store, jobId);
        if (pointer === null || (pointer.state !== 'running' && pointer.state !== 'queued')) continue;
        const leased = (await redis.exists(leaseKey(this.options.prefix, jobId))) === 1;
        this.options.log(`job ${jobId}: ${pointer.state}${leased ? ', its lease not yet expired' : ' with no coordinator'}; picking it up`);
        await enqueueJobRun(this.options.redisUrl, this.options.prefix, jobId);
      }
    } finally {
      redis.disconnect();
    }
  }

  /** Checkpoints the running jobs, leaves them to be resumed, and stops. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.coordinator.requestStop();
      await this.schedules.close();
      await this.worker?.close();
      await this.coordinator.close();
      await this.queueDepths?.close();
    })();
    return this.closing;
  }
}
