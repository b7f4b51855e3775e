// Runs one step's shards on the gradient queue and waits for all of them. Each shard is a
// BullMQ job whose id carries (job, generation, step, shard), so a re-enqueue within one
// generation is a no-op. A shard running far longer than the step's median is given to an
// idle worker as a second job with the same data; results are deterministic, so the first
// one to finish wins. BullMQ's own retries (attempts, backoff) and stalled-job detection
// handle workers that fail or die.
import { Queue, QueueEvents } from 'bullmq';
import { ShardFailedError } from './errors/shard-failed-error';
import { redisOptionsFromUrl } from './redis';

export interface ShardTask<D> {
  readonly shard: number;
  /** BullMQ job id: unique per (job, generation, step, kind, shard). No ':'. */
  readonly taskId: string;
  readonly data: D;
}

export interface ShardDispatcherOptions {
  /** Attempts per shard before the step fails. */
  attempts: number;
  /** First retry delay; doubles per attempt. */
  backoffMs: number;
  /** Upper bound on the wait between two looks at the shards (events wake it earlier). */
  pollMs: number;
  /** A shard running longer than this many times the step's median gets a duplicate. */
  stragglerFactor: number;
  /** ... but never before it has run this long. */
  stragglerMinMs: number;
  /** How often `check` (lease, Redis reset, cancel) runs while waiting. */
  checkEveryMs: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: ShardDispatcherOptions = {
  attempts: 3,
  backoffMs: 1000,
  pollMs: 250,
  stragglerFactor: 3,
  stragglerMinMs: 2000,
  checkEveryMs: 500,
};

export function validateDispatcherOptions(options: ShardDispatcherOptions): ShardDispatcherOptions {
  for (const [name, value] of Object.entries(options)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`dispatcher option ${name} must be a non-negative number, got ${String(value)}`);
    }
  }
  if (!Number.isInteger(options.attempts) || options.attempts < 1) {
    throw new RangeError(`dispatcher option attempts must be a positive integer, got ${options.attempts}`);
  }
  if (options.stragglerFactor < 1) throw new RangeError(`dispatcher option stragglerFactor must be at least 1, got ${options.stragglerFactor}`);
  return options;
}

const DUPLICATE_SUFFIX = '-dup';
/** Finished jobs a step could not remove (still locked by a straggler) expire after this. */
const LEFTOVER_AGE_SECONDS = 3600;

interface ShardProgress<R> {
  readonly task: ShardTask<unknown>;
  result?: R;
  duplicated: boolean;
  failure?: ShardFailedError;
}

export class ShardDispatcher {
  private readonly options: ShardDispatcherOptions;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private waiters: (() => void)[] = [];
  /** The previous step's clean-up, left to run while the coordinator aggregates. */
  private removal: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    queueName: string,
    connection: { redisUrl: string; prefix: string },
    options: Partial<ShardDispatcherOptions> = {},
  ) {
    this.options = validateDispatcherOptions({ ...DEFAULT_DISPATCHER_OPTIONS, ...options });
    const redis = redisOptionsFromUrl(connection.redisUrl);
    this.queue = new Queue(queueName, { connection: redis, prefix: connection.prefix });
    this.events = new QueueEvents(queueName, { connection: redis, prefix: connection.prefix });
    const wake = (): void => this.wakeAll();
    this.events.on('completed', wake);
    this.events.on('failed', wake);
    this.events.on('error', () => undefined);
    this.queue.on('error', () => undefined);
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private async nap(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /**
   * Enqueues the tasks and resolves with their results in shard order. `check` runs every
   * checkEveryMs and may throw to abandon the step (lease lost, Redis reset, cancel).
   * `onResult` sees each task's result (by index in `tasks`) as soon as it is in, so that
   * the caller can start on it while other shards still run.
   */
  async run<D extends object, R>(
    tasks: readonly ShardTask<D>[],
    check: () => Promise<void>,
    onResult: (index: number, result: R) => void = () => undefined,
  ): Promise<R[]> {
    await this.removal;
    const jobOptions = {
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: { age: LEFTOVER_AGE_SECONDS },
      removeOnFail: { age: LEFTOVER_AGE_SECONDS },
    };
    await this.queue.addBulk(tasks.map((task) => ({ name: 'gradient', data: task.data, opts: { ...jobOptions, jobId: task.taskId } })));
    const progress: ShardProgress<R>[] = tasks.map((task) => ({ task, duplicated: false }));
    const durations: number[] = [];
    let lastCheck = 0;
    try {
      for (;;) {
        if (Date.now() - lastCheck >= this.options.checkEveryMs) {
          await check();
          lastCheck = Date.now();
        }
        const pending = progress.filter((shard) => shard.result === undefined);
        if (pending.length === 0) break;
        // All at once: the commands share round trips, which matters when the workers keep
        // every core busy and each round trip waits to be scheduled.
        await Promise.all(pending.map((shard) => this.lookAt(shard, durations, jobOptions)));
        const failed = pending.find((shard) => shard.failure !== undefined);
        if (failed !== undefined) throw failed.failure;
        for (const shard of pending) if (shard.result !== undefined) onResult(progress.indexOf(shard), shard.result);
        if (progress.every((shard) => shard.result !== undefined)) break;
        await this.nap(this.options.pollMs);
      }
    } finally {
      this.removal = this.removeTasks(tasks);
    }
    return progress.map((shard) => shard.result as R);
  }

  private async lookAt<R>(shard: ShardProgress<R>, durations: number[], jobOptions: object): Promise<void> {
    const ids = shard.duplicated ? [shard.task.taskId, shard.task.taskId + DUPLICATE_SUFFIX] : [shard.task.taskId];
    let failedJobs = 0;
    let runningSince: number | undefined;
    for (const id of ids) {
      // State first, then the job: a job read before its state could predate its result.
      const state = await this.queue.getJobState(id);
      if (state === 'unknown') continue;
      const job = await this.queue.getJob(id);
      if (job === undefined) continue;
      if (state === 'completed') {
        shard.result = job.returnvalue as R;
        if (job.processedOn !== undefined && job.finishedOn !== undefined) durations.push(job.finishedOn - job.processedOn);
        return;
      }
      if (state === 'failed') {
        failedJobs += 1;
        shard.failure = new ShardFailedError(shard.task.taskId, shard.task.shard, job.attemptsMade, job.failedReason ?? 'unknown error');
      } else if (job.processedOn !== undefined) {
        runningSince = Math.min(runningSince ?? Infinity, job.processedOn);
      }
    }
    // A shard fails the step only when every job running it has failed for good.
    if (failedJobs < ids.length) shard.failure = undefined;
    if (!shard.duplicated && runningSince !== undefined && this.isStraggling(Date.now() - runningSince, durations)) {
      shard.duplicated = true;
      await this.queue.add('gradient', shard.task.data, { ...jobOptions, jobId: shard.task.taskId + DUPLICATE_SUFFIX });
    }
  }

  private isStraggling(elapsedMs: number, durations: readonly number[]): boolean {
    if (durations.length === 0 || elapsedMs < this.options.stragglerMinMs) return false;
    const sorted = [...durations].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return elapsedMs > this.options.stragglerFactor * median;
  }

  private async removeTasks(tasks: readonly ShardTask<unknown>[]): Promise<void> {
    // A job still locked by a straggling worker cannot be removed; it expires by age.
    const ids = tasks.flatMap((task) => [task.taskId, task.taskId + DUPLICATE_SUFFIX]);
    await Promise.all(ids.map((id) => this.queue.remove(id).catch(() => 0)));
  }

  /** Removes waiting and delayed jobs whose ids start with `taskIdPrefix` (an older generation). */
  async removeWaitingTasks(taskIdPrefix: string): Promise<number> {
    let removed = 0;
    const jobs = await this.queue.getJobs(['waiting', 'delayed', 'prioritized', 'completed', 'failed']);
    for (const job of jobs) {
      if (job.id !== undefined && job.id.startsWith(taskIdPrefix)) {
        removed += await this.queue.remove(job.id).catch(() => 0);
      }
    }
    return removed;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeAll();
    await this.removal;
    await this.events.close();
    await this.queue.close();
  }
}
