// What a run writes besides the step math: the job pointer, weight versions, metric chunks,
// checkpoints, pruning, the final state and the published model. Every write is fenced by
// the lease. A step's metrics write and pruning run while the next step's shards compute;
// whatever reads or replaces what they write waits for them first (settle).
import { SHUFFLE_VERSION, type ShardPlan } from '@lstm-runner/data';
import {
  dropMetricsAfter,
  readModelPointer,
  writeCheckpoint,
  writeJobPointer,
  writeMetricsChunk,
  writeModelPointer,
  writeWeights,
  type CheckpointRef,
  type JobRecord,
  type JobState,
  type MetricRecord,
  type ModelPointer,
  type WorkerWait,
} from '@lstm-runner/job-store';
import { checkpointKeys, gradientStepPrefix, weightsKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type { RestoredRun, TrainingState } from './run-state';

/** The proof of ownership every write needs (the job's lease). */
export interface Fence {
  readonly token: number;
  /** Throws unless the owner still holds the job. */
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

  private writePointer(state: JobState, message?: string): Promise<void> {
    const { record, generation, fence, store } = this.options;
    return this.fenced(() =>
      writeJobPointer(store, {
        version: 1,
        id: record.id,
        name: record.name,
        state,
        generation,
        fencingToken: fence.token,
        checkpoint: this.lastCheckpoint,
        totalSteps: record.totalSteps,
        ...(message === undefined ? {} : { message }),
        ...(this.waiting === null || state !== 'running' ? {} : { waiting: this.waiting }),
        updatedAt: new Date().toISOString(),
      }),
    );
  }

  /** Marks the job running in this generation (first: a crash after it makes the next owner take a new generation). */
  markRunning(): Promise<void> {
    return this.writePointer('running');
  }

  /** Says in the pointer that no live worker serves the job's profile (or, with null, that one does again). */
  async setWaiting(waiting: WorkerWait | null): Promise<void> {
    this.waiting = waiting;
    await this.writePointer('running');
  }

  /** Drops metrics of the steps to be replayed and writes the start weights; returns their sha256. */
  async open(training: TrainingState): Promise<string> {
    await this.fenced(() => dropMetricsAfter(this.options.store, this.options.record.id, training.step));
    return this.writeWeights(training);
  }

  /** Writes weights version training.step; returns the sha256 of its bytes. */
  writeWeights(training: TrainingState): Promise<string> {
    return this.fenced(() => writeWeights(this.options.store, this.options.record.id, training.step, training.params));
  }

  /** Appends the step's record; writing it and pruning the step's leftovers happen in the background. */
  recordStep(metric: MetricRecord): void {
    this.chunk.push(metric);
    const start = this.chunkStart;
    const records = [...this.chunk];
    const previous = this.bookkeeping;
    this.bookkeeping = (async () => {
      await previous;
      await this.fenced(() => writeMetricsChunk(this.options.store, this.options.record.id, start, records));
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
    this.lastCheckpoint = await this.fenced(() =>
      writeCheckpoint(
        store,
        {
          jobId: record.id,
          step: training.step,
          epoch: position.epoch,
          batchInEpoch: position.stepInEpoch,
          shuffleVersion: SHUFFLE_VERSION,
          datasetId: record.datasetId,
          profile: record.profile,
          validation: training.validation,
          metricsCount: this.recordsBefore + this.chunk.length,
          generation,
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
    await this.writePointer(state, message);
  }

  /** models/<name>/latest.json -> this run's final checkpoint; best.json -> its lowest validation loss, when lower than the model's best so far. */
  async publishModel(training: TrainingState): Promise<void> {
    const { store, record } = this.options;
    const final = this.lastCheckpoint;
    if (final === null) throw new Error(`job ${record.id}: no checkpoint to publish`);
    const pointer = (checkpoint: CheckpointRef, validationLoss: number | null): ModelPointer => ({
      name: record.name,
      jobId: record.id,
      checkpoint: checkpoint.prefix,
      step: checkpoint.step,
      datasetId: record.datasetId,
      validationLoss,
      updatedAt: new Date().toISOString(),
    });
    await this.fenced(() => writeModelPointer(store, 'latest', pointer(final, training.validation.lastLoss)));
    const { bestStep, bestLoss } = training.validation;
    if (bestStep === null || bestLoss === null) return;
    const previousBest = await readModelPointer(store, record.name, 'best').catch(() => null);
    if (previousBest?.validationLoss == null || bestLoss < previousBest.validationLoss) {
      const best = { step: bestStep, prefix: checkpointKeys(record.id, bestStep).prefix };
      await this.fenced(() => writeModelPointer(store, 'best', pointer(best, bestLoss)));
    }
  }

  private async prune(step: number): Promise<void> {
    const { store, record, generation, keepWeights } = this.options;
    for (const key of await store.list(gradientStepPrefix(record.id, generation, step - 1))) await store.delete(key);
    const oldest = step - keepWeights;
    if (oldest >= 0) await store.delete(weightsKey(record.id, oldest));
  }
}
