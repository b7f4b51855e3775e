// What the dashboard needs from Redis, behind one interface: the live workers, the queue
// depths, and the two actions. RedisClusterView is the real one (libs/runner's functions);
// tests give a fake.
import { cancelJob, ClusterReader, resumeThroughService, type QueueDepth, type WorkerAnnouncement } from '@lstm-runner/runner';
import type { ObjectStore } from '@lstm-runner/storage';

export interface ClusterView {
  liveWorkers(): Promise<WorkerAnnouncement[]>;
  /** The depth of these profiles' queues and of those live workers serve. */
  queueDepths(profiles: readonly string[]): Promise<QueueDepth[]>;
  /** Cancels the job; resolves with a sentence saying what happened. */
  cancel(jobId: string): Promise<string>;
  /** Reopens the job for a coordinator service; resolves with a sentence saying what happened. */
  resume(jobId: string): Promise<string>;
  /** Idempotent. */
  close(): Promise<void>;
}

export interface RedisClusterViewOptions {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  readonly prefix: string;
}

export class RedisClusterView implements ClusterView {
  private readonly reader: ClusterReader;

  constructor(private readonly options: RedisClusterViewOptions) {
    this.reader = new ClusterReader(options.redisUrl, options.prefix);
  }

  liveWorkers(): Promise<WorkerAnnouncement[]> {
    return this.reader.liveWorkers();
  }

  queueDepths(profiles: readonly string[]): Promise<QueueDepth[]> {
    return this.reader.depths(profiles);
  }

  async cancel(jobId: string): Promise<string> {
    const outcome = await cancelJob(this.options, jobId);
    if (outcome.kind === 'already-ended') return `job ${jobId} is already ${outcome.state}`;
    if (outcome.kind === 'requested') return `job ${jobId}: cancel requested; its coordinator checkpoints and stops at the next step`;
    return `job ${jobId}: cancelled`;
  }

  async resume(jobId: string): Promise<string> {
    await resumeThroughService(this.options, jobId);
    return `job ${jobId}: resuming; a coordinator service picks it up (lstm coordinator)`;
  }

  close(): Promise<void> {
    return this.reader.close();
  }
}
