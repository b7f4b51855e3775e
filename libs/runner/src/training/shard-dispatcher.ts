// Runs one step's shards on the gradient queue and waits for all of them. Each shard is a
// BullMQ job whose id carries (job, generation, step, shard), so a re-enqueue within one
// generation is a no-op. A shard running far longer than the step's median is given to an
// idle worker as a second job with the same data; results are deterministic, so the first
// one to finish wins. BullMQ's own retries (attempts, backoff) and stalled-job detection
// handle workers that fail or die.
//
// Results arrive with BullMQ's 'completed' events (written by the same script that completes
// the job), so a step's end costs no lookup; the queue is read only when no event came for
// pollMs (events lost with a connection, or a shard that is slow) or a job failed.
import { Queue, QueueEvents } from 'bullmq';
import { ShardFailedError } from '../errors/shard-failed-error';
import { redisOptionsFromUrl } from '../redis/redis-connection';
import { QUEUE_RETENTION_SECONDS } from '../redis/redis-layout';
import type { ShardRunner, ShardTask } from './shard-runner';

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
  if (options.stragglerFactor < 1)
    throw new RangeError(`dispatcher option stragglerFactor must be at least 1, got ${options.stragglerFactor}`);
  return options;
}

const DUPLICATE_SUFFIX = '-dup';

/** What happened to a shard job besides finishing. */
export interface ShardEvent {
  /**
   * stalled: its worker died or stopped answering, and BullMQ gave it back to the queue;
   * attempt-failed: an attempt threw, and it is retried;
   * failed: it failed for good; duplicated: it straggled, and an idle worker got a copy.
   */
  readonly kind: 'stalled' | 'attempt-failed' | 'failed' | 'duplicated';
  /** The BullMQ job id (a duplicate's ends in -dup). */
  readonly taskId: string;
}

interface ShardProgress<R> {
  /** Its index in the step's tasks. */
  readonly index: number;
  readonly task: ShardTask<unknown>;
  result?: R;
  duplicated: boolean;
  failure: ShardFailedError | undefined;
}

/** What the queue's events told about one BullMQ job of the running step (coordinator clock). */
interface JobEvents {
  activeAt?: number;
  completed?: { readonly result: unknown; readonly at: number };
}

/** BullMQ's reason for a job whose workers died (or stopped answering) more times than allowed. */
const STALLED_TOO_OFTEN = 'job stalled more than allowable limit';

/** Why a shard job failed, in words for the job's message. */
function failureReason(failedReason: string | undefined, stalledCounter: number): string {
  if (failedReason !== STALLED_TOO_OFTEN) return failedReason ?? 'unknown error';
  // A crash in native code (a segfault) kills the whole worker process: a shard that did so
  // twice fails the job instead of taking down every worker in turn.
  return `${stalledCounter} workers died or stopped answering while computing it (a crash in native code kills its whole worker); it fails here instead of taking down every worker in turn`;
}

export class ShardDispatcher implements ShardRunner {
  private readonly options: ShardDispatcherOptions;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private waiters: (() => void)[] = [];
  /** Completed and failed events seen; a nap that starts after a new one returns at once. */
  private eventCount = 0;
  private failedEventCount = 0;
  /** Events of the running steps' jobs (several jobs can share a queue), by BullMQ job id; others are ignored. */
  private readonly watched = new Map<string, JobEvents>();
  /** The clean-up of the runs that ended, left to run while the coordinator aggregates. */
  private removal: Promise<void> = Promise.resolve();
  /** Each running step's shard durations, sorted (see medianOf); several jobs can share a queue. */
  private readonly sortedDurations = new WeakMap<readonly number[], number[]>();
  private closed = false;

  constructor(
    queueName: string,
    connection: { redisUrl: string; prefix: string },
    options: Partial<ShardDispatcherOptions> = {},
    /** Told of what happens to the watched shard jobs besides finishing: stalls, retries, duplicates, failures. */
    private readonly observe: (event: ShardEvent) => void = () => undefined,
  ) {
    this.options = validateDispatcherOptions({ ...DEFAULT_DISPATCHER_OPTIONS, ...options });
    const redis = redisOptionsFromUrl(connection.redisUrl);
    this.queue = new Queue(queueName, { connection: redis, prefix: connection.prefix });
    this.events = new QueueEvents(queueName, { connection: redis, prefix: connection.prefix });
    this.events.on('active', ({ jobId }) => {
      const job = this.watched.get(jobId);
      // Each attempt restarts the clock, as BullMQ's processedOn does.
      if (job !== undefined) job.activeAt = Date.now();
    });
    this.events.on('completed', ({ jobId, returnvalue }) => {
      const job = this.watched.get(jobId);
      if (job !== undefined) job.completed = { result: returnvalue, at: Date.now() };
      this.eventCount += 1;
      this.wakeAll();
    });
    this.events.on('stalled', ({ jobId }) => {
      if (this.watched.has(jobId)) this.observe({ kind: 'stalled', taskId: jobId });
    });
    this.events.on('waiting', ({ jobId, prev }) => {
      // A failed attempt with attempts left goes back to the queue: a retry.
      if (prev === 'failed' && this.watched.has(jobId)) this.observe({ kind: 'attempt-failed', taskId: jobId });
    });
    this.events.on('failed', ({ jobId }) => {
      if (this.watched.has(jobId)) this.observe({ kind: 'failed', taskId: jobId });
      this.eventCount += 1;
      this.failedEventCount += 1;
      this.wakeAll();
    });
    this.events.on('error', () => undefined);
    this.queue.on('error', () => undefined);
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Waits up to ms for an event; returns at once when one came after eventCount was `seen`. True when it timed out. */
  private async nap(ms: number, seen: number): Promise<boolean> {
    if (this.eventCount !== seen) return false;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(true), ms);
      const done = (timedOut: boolean): void => {
        clearTimeout(timer);
        resolve(timedOut);
      };
      this.waiters.push(() => done(false));
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
    onEnqueued: () => void = () => undefined,
  ): Promise<R[]> {
    await this.removal;
    const jobOptions = {
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: { age: QUEUE_RETENTION_SECONDS },
      removeOnFail: { age: QUEUE_RETENTION_SECONDS },
    };
    const jobIds = tasks.flatMap((task) => [task.taskId, task.taskId + DUPLICATE_SUFFIX]);
    for (const id of jobIds) this.watched.set(id, {});
    await this.queue.addBulk(tasks.map((task) => ({ name: 'gradient', data: task.data, opts: { ...jobOptions, jobId: task.taskId } })));
    onEnqueued();
    const progress: ShardProgress<R>[] = tasks.map((task, index) => ({ index, task, duplicated: false, failure: undefined }));
    const durations: number[] = [];
    let lastCheck = 0;
    let readQueue = false;
    let failedEventsSeen = this.failedEventCount;
    try {
      for (;;) {
        if (Date.now() - lastCheck >= this.options.checkEveryMs) {
          await check();
          lastCheck = Date.now();
        }
        const eventsSeen = this.eventCount;
        const pending = progress.filter((shard) => shard.result === undefined);
        for (const shard of pending) this.takeFromEvents(shard, durations);
        if (this.failedEventCount !== failedEventsSeen) {
          failedEventsSeen = this.failedEventCount;
          readQueue = true;
        }
        if (readQueue) {
          // All at once: the commands share round trips, which matters when the workers keep
          // every core busy and each round trip waits to be scheduled.
          await Promise.all(
            pending.filter((shard) => shard.result === undefined).map((shard) => this.lookAt(shard, durations, jobOptions)),
          );
          const failed = pending.find((shard) => shard.failure !== undefined);
          if (failed !== undefined) throw failed.failure;
        } else {
          await Promise.all(
            pending.map((shard) => this.duplicateIfStraggling(shard, this.eventRunningSince(shard), durations, jobOptions)),
          );
        }
        for (const shard of pending) if (shard.result !== undefined) onResult(shard.index, shard.result);
        if (progress.every((shard) => shard.result !== undefined)) break;
        readQueue = await this.nap(this.options.pollMs, eventsSeen);
      }
    } finally {
      for (const id of jobIds) this.watched.delete(id);
      // Runs overlap (a step's reduce tasks start while its shards run): wait for every clean-up.
      const earlier = this.removal;
      this.removal = this.removeTasks(progress).then(() => earlier);
    }
    return progress.map((shard) => shard.result as R);
  }

  /** The result of a shard (or of its duplicate) when a 'completed' event brought it. */
  private takeFromEvents<R>(shard: ShardProgress<R>, durations: number[]): void {
    for (const id of this.jobIdsOf(shard)) {
      const events = this.watched.get(id);
      if (events?.completed === undefined) continue;
      shard.result = events.completed.result as R;
      if (events.activeAt !== undefined) durations.push(events.completed.at - events.activeAt);
      return;
    }
  }

  /** When the earliest job of this shard started, as far as 'active' events tell. */
  private eventRunningSince(shard: ShardProgress<unknown>): number | undefined {
    const starts = this.jobIdsOf(shard).flatMap((id) => this.watched.get(id)?.activeAt ?? []);
    return starts.length === 0 ? undefined : Math.min(...starts);
  }

  private jobIdsOf(shard: ShardProgress<unknown>): string[] {
    return shard.duplicated ? [shard.task.taskId, shard.task.taskId + DUPLICATE_SUFFIX] : [shard.task.taskId];
  }

  private async lookAt<R>(shard: ShardProgress<R>, durations: number[], jobOptions: object): Promise<void> {
    const ids = this.jobIdsOf(shard);
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
        shard.failure = new ShardFailedError(
          shard.task.taskId,
          shard.task.shard,
          job.attemptsMade,
          failureReason(job.failedReason, job.stalledCounter),
        );
      } else if (job.processedOn !== undefined) {
        runningSince = Math.min(runningSince ?? Infinity, job.processedOn);
      }
    }
    // A shard fails the step only when every job running it has failed for good.
    if (failedJobs < ids.length) shard.failure = undefined;
    await this.duplicateIfStraggling(shard, runningSince, durations, jobOptions);
  }

  private async duplicateIfStraggling(
    shard: ShardProgress<unknown>,
    runningSince: number | undefined,
    durations: readonly number[],
    jobOptions: object,
  ): Promise<void> {
    if (
      shard.result !== undefined ||
      shard.duplicated ||
      runningSince === undefined ||
      !this.isStraggling(Date.now() - runningSince, durations)
    )
      return;
    shard.duplicated = true;
    await this.queue.add('gradient', shard.task.data, { ...jobOptions, jobId: shard.task.taskId + DUPLICATE_SUFFIX });
    this.observe({ kind: 'duplicated', taskId: shard.task.taskId });
  }

  private isStraggling(elapsedMs: number, durations: readonly number[]): boolean {
    if (durations.length === 0 || elapsedMs < this.options.stragglerMinMs) return false;
    return elapsedMs > this.options.stragglerFactor * this.medianOf(durations);
  }

  /** The median duration, sorted once per new duration (not once per shard looked at: N shards a look). */
  private medianOf(durations: readonly number[]): number {
    let sorted = this.sortedDurations.get(durations);
    if (sorted?.length !== durations.length) {
      sorted = [...durations].sort((a, b) => a - b);
      this.sortedDurations.set(durations, sorted);
    }
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  private async removeTasks(progress: readonly ShardProgress<unknown>[]): Promise<void> {
    // A job still locked by a straggling worker cannot be removed; it expires by age.
    await Promise.all(progress.flatMap((shard) => this.jobIdsOf(shard)).map((id) => this.queue.remove(id).catch(() => 0)));
  }

  /** Removes waiting and delayed jobs whose ids start with `taskIdPrefix` (an older generation). */
  async removeWaitingTasks(taskIdPrefix: string): Promise<number> {
    const jobs = await this.queue.getJobs(['waiting', 'delayed', 'prioritized', 'completed', 'failed']);
    const ids = jobs.flatMap((job) => (job.id !== undefined && job.id.startsWith(taskIdPrefix) ? [job.id] : []));
    // All at once (they share round trips), not one round trip per shard job.
    const removed = await Promise.all(ids.map((id) => this.queue.remove(id).catch(() => 0)));
    return removed.reduce<number>((sum, n) => sum + n, 0);
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
