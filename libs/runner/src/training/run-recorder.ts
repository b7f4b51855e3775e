// What a run writes besides the step math: the job pointer, weight versions, metric chunks,
// checkpoints, pruning, the final state and the published model. Every object it writes lives
// under its fencing token (weights, checkpoints, metric chunks), where nothing follows it
// unless the job pointer does; the pointer moves only by a compare-and-set that refuses an
// owner whose token is no longer the job's (StaleOwnerError). A step's metrics write and
// pruning run while the next step's shards compute; whatever reads or replaces what they
// write waits for them first (settle).
import type { ShardPlan } from '@lstm-runner/data';
import {
  dropMetricsAfter,
  isFinalState,
  reductionVersionOf,
  updateJobPointer,
  writeCheckpoint,
  writeMetricsChunk,
  writeWeights,
  type CheckpointRef,
  type JobPointer,
  type JobRecord,
  type JobState,
  type MetricRecord,
  type WorkerWait,
  type WrittenWeights,
} from '@lstm-runner/job-store';
import { checkpointKeys, gradientStepPrefix, parseStoreKey, weightsKey, weightsPrefix } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type { RunEnding } from './early-stopping';
import { publishModel, type PublishOptions } from './model-publishing';
import type { RestoredRun, TrainingState } from './run-state';

/** The proof of ownership every write needs (the job's lease and its fencing token). */
export interface Fence {
  readonly token: number;
  /** Throws unless the owner still holds the job: a cheap early stop; the pointer's compare-and-set is what fences. */
  assertHeld(): Promise<void>;
}

export interface RunRecorderOptions {
  readonly store: ObjectStore;
  readonly record: JobRecord;
  readonly plan: ShardPlan;
  readonly generation: number;
  readonly fence: Fence;
  /** Weight versions kept besides checkpoints (workers may still read the previous one). */
  readonly keepWeights: number;
  /** How the completed run's model is evaluated and published. */
  readonly publish?: PublishOptions;
}

export class RunRecorder {
  private lastCheckpoint: CheckpointRef | null;
  /** Records since the last checkpoint: one chunk, rewritten whole each step. */
  private chunk: MetricRecord[] = [];
  private chunkStart: number;
  private recordsBefore: number;
  private bookkeeping: Promise<void> = Promise.resolve();
  /** Kept in every pointer written while set. */
  private waiting: WorkerWait | null = null;
  /** Pointer writes, one after the other: each is built from the state when its turn comes. */
  private pointerWrites: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: RunRecorderOptions,
    restored: RestoredRun,
  ) {
    this.lastCheckpoint = restored.checkpoint;
    this.chunkStart = restored.training.step;
    this.recordsBefore = restored.metricsCount;
  }

  get checkpoint(): CheckpointRef | null {
    return this.lastCheckpoint;
  }

  private async fenced<T>(write: () => Promise<T>): Promise<T> {
    await this.options.fence.assertHeld();
    return write();
  }

  private get token(): number {
    return this.options.fence.token;
  }

  /**
   * Moves the pointer (in turn with the other pointer writes) by compare-and-set, as this
   * owner; resolves with the pointer as it stands afterwards. A pointer another writer has
   * made final (a cancel of a job nobody owned yet) is left as it is.
   */
  private writePointer(state: JobState, extra: Partial<Pick<JobPointer, 'message' | 'published'>> = {}): Promise<JobPointer | null> {
    const { record, generation, store } = this.options;
    const write = this.pointerWrites.then(() =>
      updateJobPointer(store, record.id, this.token, (current) =>
        current !== null && isFinalState(current.state) && current.fencingToken < this.token && state === 'running'
          ? null
          : {
              version: 1,
              id: record.id,
              name: record.name,
              state,
              generation,
              fencingToken: this.token,
              checkpoint: this.lastCheckpoint,
              totalSteps: record.totalSteps,
              ...extra,
              ...(this.waiting === null || state !== 'running' ? {} : { waiting: this.waiting }),
              updatedAt: new Date().toISOString(),
            },
      ),
    );
    this.pointerWrites = write.catch(() => undefined);
    return write;
  }

  /**
   * Marks the job running in this generation, under this owner's token (first: a crash after
   * it makes the next owner take a new generation). Resolves with the pointer afterwards: a
   * final one when the job ended (was cancelled) before this owner took it.
   */
  markRunning(): Promise<JobPointer | null> {
    return this.writePointer('running');
  }

  /** Says in the pointer that no live worker serves the job's profile (or, with null, that one does again). */
  async setWaiting(waiting: WorkerWait | null): Promise<void> {
    this.waiting = waiting;
    await this.writePointer('running');
  }

  /**
   * Drops metrics of the steps to be replayed, starts this owner's chunk at the first of them
   * (it hides what earlier owners recorded from there), removes earlier owners' weight
   * versions, and writes the start weights.
   */
  async open(training: TrainingState): Promise<WrittenWeights> {
    const { store, record } = this.options;
    await this.fenced(() => dropMetricsAfter(store, record.id, training.step));
    await this.fenced(() => writeMetricsChunk(store, record.id, training.step, this.token, []));
    for (const key of await store.list(weightsPrefix(record.id))) {
      const info = parseStoreKey(key);
      if (info?.kind === 'weights' && info.token !== this.token) await store.delete(key);
    }
    return this.writeWeights(training);
  }

  /** Writes weights version training.step under this owner's token. */
  writeWeights(training: TrainingState): Promise<WrittenWeights> {
    return this.fenced(() => writeWeights(this.options.store, this.options.record.id, training.step, this.token, training.params));
  }

  /** Appends the step's record; writing it and pruning the step's leftovers happen in the background. */
  recordStep(metric: MetricRecord): void {
    this.chunk.push(metric);
    const start = this.chunkStart;
    const records = [...this.chunk];
    const previous = this.bookkeeping;
    this.bookkeeping = (async () => {
      await previous;
      await this.fenced(() => writeMetricsChunk(this.options.store, this.options.record.id, start, this.token, records));
      await this.prune(metric.step);
    })();
    this.bookkeeping.catch(() => undefined);
  }

  /** Waits for the background writes; rethrows their failure. */
  async settle(): Promise<void> {
    const pending = this.bookkeeping;
    this.bookkeeping = Promise.resolve();
    await pending;
  }

  /** Waits for the background writes, whatever their outcome (a generation ending on an error must leave no late write). */
  async drain(): Promise<void> {
    await this.bookkeeping.catch(() => undefined);
  }

  /** Checkpoints the state unless it already is; the pointer then names the new checkpoint. */
  async writeCheckpoint(training: TrainingState): Promise<void> {
    await this.settle();
    if (this.lastCheckpoint?.step === training.step) return;
    const { store, record, plan, generation } = this.options;
    const position = plan.position(training.step);
    // A checkpoint at a new best validation loss is the best checkpoint: say where it is.
    if (training.validation.bestStep === training.step) {
      training.validation = { ...training.validation, bestCheckpoint: checkpointKeys(record.id, training.step, this.token).prefix };
    }
    this.lastCheckpoint = await this.fenced(() =>
      writeCheckpoint(
        store,
        {
          jobId: record.id,
          step: training.step,
          epoch: position.epoch,
          batchInEpoch: position.stepInEpoch,
          shuffleVersion: plan.shuffle.version,
          reductionVersion: reductionVersionOf(record),
          datasetId: record.datasetId,
          profile: record.profile,
          validation: training.validation,
          metricsCount: this.recordsBefore + this.chunk.length,
          generation,
          fencingToken: this.token,
        },
        training.params,
        training.optimizer.exportState(),
      ),
    );
    await this.writePointer('running');
    this.recordsBefore += this.chunk.length;
    this.chunk = [];
    this.chunkStart = training.step;
  }

  /** Writes the job's final state (after the background writes). */
  async finish(state: JobState, message?: string): Promise<void> {
    await this.settle();
    await this.writePointer(state, message === undefined ? {} : { message });
  }

  /**
   * Completes the job, then publishes its model: the pointer says 'completed' first, by
   * compare-and-set (a stale owner stops here and publishes nothing), with `published:
   * false` until the model pointers are written, so that a coordinator that dies in between
   * leaves the publishing to the next one (Coordinator.runJob), from the pointer's checkpoint.
   */
  async complete(training: TrainingState, ending: RunEnding = {}): Promise<void> {
    // Early stopping's restoreBest: the job ends with (and publishes) its best step's checkpoint.
    if (ending.final !== undefined) this.lastCheckpoint = ending.final;
    const final = this.lastCheckpoint;
    if (final === null) throw new Error(`job ${this.options.record.id}: no checkpoint to publish`);
    const message = ending.message === undefined ? {} : { message: ending.message };
    await this.settle();
    await this.writePointer('completed', { published: false, ...message });
    await publishModel(this.options.store, this.options.record, final, training.validation, this.token, this.options.publish);
    await this.writePointer('completed', { published: true, ...message });
  }

  private async prune(step: number): Promise<void> {
    const { store, record, generation, keepWeights } = this.options;
    // All at once: one by one, 64 deletes of 50 ms each on S3 outlast a step, and the next
    // step's optimizer waits for them (settle).
    const keys = await store.list(gradientStepPrefix(record.id, generation, step - 1));
    const oldest = step - keepWeights;
    if (oldest >= 0) keys.push(weightsKey(record.id, oldest, this.token));
    await Promise.all(keys.map((key) => store.delete(key)));
  }
}
