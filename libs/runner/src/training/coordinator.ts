// The coordinator: owns a job through its lease, starts a generation for each run (a fresh
// start, a resume, a recovery), and recovers from a Redis that lost everything by resuming
// from the last checkpoint. The steps themselves are the TrainingLoop's.
import { loadManifest, WindowLayout, type ShardPlan } from '@lstm-runner/data';
import {
  isFinalState,
  readCheckpoint,
  readJobPointer,
  readJobRecord,
  shardPlanOf,
  StaleOwnerError,
  updateJobPointer,
  waitingNotice,
  type JobPointer,
  type JobRecord,
} from '@lstm-runner/job-store';
import {
  DEFAULT_QUEUE_PREFIX,
  formatNumericsProfile,
  gradientQueueName,
  shardTaskPrefix,
  type NumericsProfile,
} from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type { Redis } from 'ioredis';
import { LeaseLostError } from '../errors/lease-lost-error';
import { RedisResetError } from '../errors/redis-reset-error';
import { StopRequested } from '../errors/stop-requested';
import type { CoordinatorMetrics } from '../http/runner-metrics';
import { connectRedis } from '../redis/redis-connection';
import { cancelKey, generationKey } from '../redis/redis-layout';
import { listLiveWorkers, servedProfiles } from '../operations/worker-registry';
import { JobLease, type JobLeaseOptions } from './job-lease';
import { DEFAULT_PUBLISH_OPTIONS, publishModel, type PublishOptions } from './model-publishing';
import { RunRecorder } from './run-recorder';
import { restoreRun } from './run-state';
import { ShardDispatcher, type ShardDispatcherOptions, type ShardEvent } from './shard-dispatcher';
import { TrainingLoop, type JobOutcome, type StepProgress } from './training-loop';
import { DEFAULT_WORKER_WATCH_OPTIONS, WorkerWatch, type WorkerWatchOptions } from './worker-watch';

export interface CoordinatorOptions {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  /** Prefix of BullMQ queues and of our Redis keys; tests isolate by prefix. */
  readonly prefix: string;
  readonly lease: Partial<JobLeaseOptions>;
  readonly dispatcher: Partial<ShardDispatcherOptions>;
  /** When a job's profile has no live worker: how often to look, and after how long to say so. */
  readonly workerWatch: Partial<WorkerWatchOptions>;
  /** Weight versions kept besides checkpoints (workers may still read the previous one). */
  readonly keepWeights: number;
  /** Validation evaluates at most this many shards, evenly spaced over the validation windows. */
  readonly maxValidationShards: number;
  readonly log: (line: string) => void;
  readonly onProgress?: (progress: StepProgress) => void;
  /** Where steps, losses and running jobs are counted (the service's /metrics), if anywhere. */
  readonly metrics?: CoordinatorMetrics;
  /** Endpoint for an s3:// promotion holdout; default S3_ENDPOINT. */
  readonly s3Endpoint?: string | undefined;
  /** Where dataset segments read to evaluate a completed run are cached. */
  readonly evaluationCacheDir: string;
}

export const DEFAULT_COORDINATOR_OPTIONS: Omit<CoordinatorOptions, 'store' | 'redisUrl'> = {
  prefix: DEFAULT_QUEUE_PREFIX,
  lease: {},
  dispatcher: {},
  workerWatch: {},
  keepWeights: 2,
  maxValidationShards: 64,
  log: () => undefined,
  evaluationCacheDir: DEFAULT_PUBLISH_OPTIONS.cacheDir,
};

/** A job this coordinator runs now. */
export interface RunningJob {
  readonly jobId: string;
  readonly profile: NumericsProfile;
  /** Shards of its largest step: how many workers it can keep busy. */
  readonly shardsPerStep: number;
}

const SHARD_EVENT_TEXT: Readonly<Record<ShardEvent['kind'], string>> = {
  stalled: 'its worker died or stopped answering; BullMQ gave it back to the queue (stalled)',
  'attempt-failed': 'an attempt failed; it is retried',
  failed: 'failed for good',
  duplicated: 'straggling; an idle worker computes it too (straggler duplicate)',
};

export interface RunJobOptions {
  /** Checkpoint and return (the job stays resumable) after this many steps of this run. */
  readonly stopAfterSteps?: number;
  /** Give up (the job stays as it is) when another coordinator still holds the lease after this long. */
  readonly leaseWaitMs?: number;
}

export function validateCoordinatorOptions(options: CoordinatorOptions): CoordinatorOptions {
  for (const name of ['keepWeights', 'maxValidationShards'] as const) {
    const value = options[name];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`coordinator option ${name} must be a positive integer, got ${value}`);
  }
  return options;
}

export class Coordinator {
  private readonly options: CoordinatorOptions;
  private readonly redis: Redis;
  private readonly dispatchers = new Map<string, ShardDispatcher>();
  /** The jobs this coordinator runs now: what autoscalers and metrics need of them. */
  private readonly running = new Map<string, RunningJob>();
  private stopRequested = false;
  private closed = false;

  constructor(options: Partial<CoordinatorOptions> & Pick<CoordinatorOptions, 'store' | 'redisUrl'>) {
    this.options = validateCoordinatorOptions({ ...DEFAULT_COORDINATOR_OPTIONS, ...options });
    this.redis = connectRedis(this.options.redisUrl);
  }

  /** The jobs this coordinator runs now. */
  runningJobs(): RunningJob[] {
    return [...this.running.values()];
  }

  /** Asks every running job to checkpoint at the next step boundary and return. */
  requestStop(): void {
    this.stopRequested = true;
  }

  private dispatcherFor(record: JobRecord): ShardDispatcher {
    const queueName = gradientQueueName(record.profile);
    let dispatcher = this.dispatchers.get(queueName);
    if (dispatcher === undefined) {
      dispatcher = new ShardDispatcher(
        queueName,
        { redisUrl: this.options.redisUrl, prefix: this.options.prefix },
        this.options.dispatcher,
        (event) => this.observeShard(event),
      );
      this.dispatchers.set(queueName, dispatcher);
    }
    return dispatcher;
  }

  /**
   * Runs the job until it completes, fails, is cancelled or a stop is requested. Waits for
   * the lease when another coordinator holds it.
   */
  async runJob(jobId: string, runOptions: RunJobOptions = {}): Promise<JobOutcome> {
    const { store, log } = this.options;
    const record = await readJobRecord(store, jobId);
    for (;;) {
      const pointer = await readJobPointer(store, jobId);
      // A completed job whose coordinator died before publishing its model is still owed that.
      const unpublished = pointer?.state === 'completed' && pointer.published === false;
      if (pointer !== null && isFinalState(pointer.state) && !unpublished) {
        return {
          jobId,
          state: pointer.state,
          step: pointer.checkpoint?.step ?? 0,
          message: pointer.message ?? `job is already ${pointer.state}`,
        };
      }
      const giveUpAt = Date.now() + (runOptions.leaseWaitMs ?? Infinity);
      const leaseOptions = { prefix: this.options.prefix, ...this.options.lease };
      const lease = await JobLease.acquire(
        this.redis,
        jobId,
        leaseOptions,
        pointer?.fencingToken ?? 0,
        () => this.stopRequested || Date.now() > giveUpAt,
      );
      if (lease === null) {
        return {
          jobId,
          state: pointer?.state ?? 'queued',
          step: pointer?.checkpoint?.step ?? 0,
          message: 'another coordinator holds the job',
        };
      }
      try {
        if (unpublished) return await this.finishPublishing(record, pointer, lease);
        return await this.runGeneration(record, lease, runOptions);
      } catch (error) {
        // A lease lost with everything else in Redis is a Redis reset, not another owner.
        if (error instanceof RedisResetError || (error instanceof LeaseLostError && (await this.redisWasReset(jobId)))) {
          log(error instanceof RedisResetError ? error.message : new RedisResetError(jobId).message);
          continue;
        }
        if (error instanceof LeaseLostError || error instanceof StaleOwnerError) {
          log(error.message);
          return { jobId, state: 'running', step: -1, message: error.message };
        }
        throw error;
      } finally {
        await lease.release();
      }
    }
  }

  /** Publishes the model of a completed job whose coordinator died before it could, under this lease's token. */
  private async finishPublishing(record: JobRecord, pointer: JobPointer, lease: JobLease): Promise<JobOutcome> {
    const { store, log } = this.options;
    const final = pointer.checkpoint;
    if (final === null) throw new Error(`job ${record.id}: completed without a checkpoint`);
    const { manifest } = await readCheckpoint(store, final.prefix);
    // The pointer takes this token first: an earlier owner still publishing is refused from here on.
    await updateJobPointer(store, record.id, lease.token, (current) =>
      current === null ? null : { ...current, fencingToken: lease.token },
    );
    await publishModel(store, record, final, manifest.validation, lease.token, this.publishOptions());
    await updateJobPointer(store, record.id, lease.token, (current) => (current === null ? null : { ...current, published: true }));
    log(`job ${record.id}: published the model its coordinator left unpublished`);
    return { jobId: record.id, state: 'completed', step: final.step };
  }

  /** One generation: restore from the store, mark it in Redis, run the steps. */
  private async runGeneration(record: JobRecord, lease: JobLease, runOptions: RunJobOptions): Promise<JobOutcome> {
    const { store, log, prefix } = this.options;
    const jobId = record.id;
    const previous = await readJobPointer(store, jobId);
    if (previous !== null && isFinalState(previous.state)) return { jobId, state: previous.state, step: previous.checkpoint?.step ?? 0 };
    const generation = (previous?.generation ?? 0) + 1;
    const plan = await this.planFor(record);
    const restored = await restoreRun(store, record, previous);
    const recorder = new RunRecorder(
      { store, record, plan, generation, fence: lease, keepWeights: this.options.keepWeights, publish: this.publishOptions() },
      restored,
    );
    const marked = await recorder.markRunning();
    if (marked !== null && isFinalState(marked.state)) return { jobId, state: marked.state, step: marked.checkpoint?.step ?? 0 };
    await this.redis.set(generationKey(prefix, jobId), String(generation));
    await this.redis.del(cancelKey(prefix, jobId));
    const dispatcher = this.dispatcherFor(record);
    const stale = await this.removeOtherGenerations(dispatcher, jobId, generation);
    log(
      `job ${jobId}: generation ${generation}, from step ${restored.training.step} of ${plan.totalSteps}${stale > 0 ? `, dropped ${stale} stale shard jobs` : ''}`,
    );
    const weights = await recorder.open(restored.training);
    const profile = formatNumericsProfile(record.profile);
    const watch = new WorkerWatch(
      profile,
      { ...DEFAULT_WORKER_WATCH_OPTIONS, ...this.options.workerWatch },
      async () => servedProfiles(await listLiveWorkers(this.redis, prefix)),
      async (wait) => {
        log(wait === null ? `job ${jobId}: a worker of ${profile} is live again` : `job ${jobId}: ${waitingNotice(wait)}`);
        await recorder.setWaiting(wait);
      },
    );
    const loop = new TrainingLoop(
      {
        store,
        record,
        plan,
        generation,
        shards: dispatcher,
        recorder,
        check: async () => {
          await this.check(jobId, generation, lease);
          await watch.look();
        },
        ...(runOptions.stopAfterSteps === undefined ? {} : { stopAtStep: restored.training.step + runOptions.stopAfterSteps }),
        maxValidationShards: this.options.maxValidationShards,
        log,
        onProgress: (progress) => {
          watch.noteProgress();
          this.observe(progress, profile);
        },
      },
      restored.training,
      weights,
    );
    this.running.set(jobId, { jobId, profile: record.profile, shardsPerStep: plan.shardsInStep(0) });
    this.options.metrics?.jobsRunning.inc({ profile });
    let outcome: JobOutcome;
    try {
      outcome = await loop.run();
    } finally {
      this.running.delete(jobId);
      this.options.metrics?.jobsRunning.dec({ profile });
      this.options.metrics?.dropJob(jobId);
    }
    if (isFinalState(outcome.state)) await this.redis.del(generationKey(prefix, jobId), cancelKey(prefix, jobId));
    return outcome;
  }

  private publishOptions(): PublishOptions {
    const { log, s3Endpoint, evaluationCacheDir } = this.options;
    return { log, s3Endpoint, cacheDir: evaluationCacheDir };
  }

  private observeShard(event: ShardEvent): void {
    this.options.metrics?.shardEvents.inc({ event: event.kind });
    this.options.log(`shard ${event.taskId}: ${SHARD_EVENT_TEXT[event.kind]}`);
  }

  private observe(progress: StepProgress, profile: string): void {
    const { metrics, onProgress } = this.options;
    const { metric, jobId } = progress;
    if (metrics !== undefined) {
      metrics.stepsCompleted.inc({ profile });
      metrics.stepSeconds.observe({ profile }, metric.stepMs / 1000);
      metrics.shardComputeSeconds.observe({ profile }, metric.shardComputeMs / 1000);
      metrics.trainLoss.set({ job: jobId }, metric.trainLoss);
      if (metric.lastValidationLoss !== null) metrics.validationLoss.set({ job: jobId }, metric.lastValidationLoss);
    }
    onProgress?.(progress);
  }

  /** Throws when this generation must stop: Redis lost its state, the lease is gone, a cancel or stop was asked for. */
  private async check(jobId: string, generation: number, lease: JobLease): Promise<void> {
    const { prefix } = this.options;
    // One round trip for the three looks; their order of precedence stays as written.
    const [current, held, cancelled] = await Promise.allSettled([
      this.redis.get(generationKey(prefix, jobId)),
      lease.assertHeld(),
      this.redis.exists(cancelKey(prefix, jobId)),
    ]);
    if (current.status === 'rejected') throw current.reason;
    if (current.value !== String(generation)) throw new RedisResetError(jobId);
    if (held.status === 'rejected') throw held.reason;
    if (cancelled.status === 'rejected') throw cancelled.reason;
    if (cancelled.value === 1) throw new StopRequested(true);
    if (this.stopRequested) throw new StopRequested(false);
  }

  /** True when the job's generation sentinel is gone: Redis lost its state (an owner that took over would have set it). */
  private async redisWasReset(jobId: string): Promise<boolean> {
    return (await this.redis.exists(generationKey(this.options.prefix, jobId))) === 0;
  }

  private async planFor(record: JobRecord): Promise<ShardPlan> {
    const manifest = await loadManifest(this.options.store, record.datasetId);
    return shardPlanOf(record, new WindowLayout(manifest.series, record.spec.data.window, manifest.source.name));
  }

  private async removeOtherGenerations(dispatcher: ShardDispatcher, jobId: string, generation: number): Promise<number> {
    let removed = 0;
    for (let older = generation - 1; older >= Math.max(1, generation - 3); older--) {
      removed += await dispatcher.removeWaitingTasks(shardTaskPrefix(jobId, older));
    }
    return removed;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopRequested = true;
    for (const dispatcher of this.dispatchers.values()) await dispatcher.close();
    this.redis.disconnect();
  }
}
