// What the training loop needs from a queue: run one step's shards and hand back their
// results in shard order. The BullMQ ShardDispatcher implements it; unit tests drive the loop
// with an in-process runner.

export interface ShardTask<D> {
  readonly shard: number;
  /** Queue job id: unique per (job, generation, step, kind, shard). No ':'. */
  readonly taskId: string;
  readonly data: D;
}

export interface ShardRunner {
  /**
   * Runs the tasks and resolves with their results in task order. `check` runs every now and
   * then and may throw to abandon the step (lease lost, Redis reset, cancel). `onResult` sees
   * a task's result (by its index) as soon as it is in, and may see it more than once (a
   * straggler's duplicate); a shard that failed for good rejects with ShardFailedError.
   * `onEnqueued` is told when the tasks are on the queue (the rest is waiting for workers).
   */
  run<D extends object, R>(
    tasks: readonly ShardTask<D>[],
    check: () => Promise<void>,
    onResult?: (index: number, result: R) => void,
    onEnqueued?: () => void,
  ): Promise<R[]>;
}
