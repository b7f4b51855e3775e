// The coordinator's job loop: owns a job through its lease, runs its steps on the gradient
// queue, aggregates, applies the optimizer, writes weights, metrics and checkpoints, and
// recovers from a Redis that lost everything by resuming from the last checkpoint.
import {
  clipByGlobalNorm,
  createOptimizer,
  initializeParameters,
  parameterLayout,
  type Optimizer,
} from '@lstm-runner/lstm-core';
import { loadManifest, SHUFFLE_VERSION, WindowLayout, type ShardPlan } from '@lstm-runner/data';
import {
  checkpointKeys,
  decodeFloat32Vector,
  shardTaskId,
  shardTaskPrefix,
  type GradientJobData,
  type GradientJobResult,
  gradientQueueName,
  gradientStepPrefix,
  jobLatestKey,
  modelBestKey,
  modelLatestKey,
  weightsKey,
} from '@lstm-runner/protocol';
import { getVerified, type ObjectStore } from '@lstm-runner/storage';
import type { Redis } from 'ioredis';
import { aggregateShardGradients, firstNonFinite, type ShardGradient } from './aggregate';
import { ShardDispatcher, type ShardDispatcherOptions, type ShardTask } from './dispatcher';
import { LeaseLostError } from './errors/lease-lost-error';
import { RedisResetError } from './errors/redis-reset-error';
import { ShardFailedError } from './errors/shard-failed-error';
import { TrainingFailedError } from './errors/training-failed-error';
import {
  dropMetricsAfter,
  readCheckpoint,
  readJobPointer,
  readJobRecord,
  readJson,
  writeCheckpoint,
  writeJson,
  writeMetricsChunk,
  writeWeights,
  type CheckpointRef,
  type JobPointer,
  type JobRecord,
  type JobState,
  type MetricRecord,
  type ValidationState,
} from './job-files';
import { shardPlanOf } from './job-plan';
import { JobLease, type JobLeaseOptions } from './lease';
import { connectRedis } from './redis';
import { cancelKey, generationKey } from './redis-keys';

export interface CoordinatorOptions {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  /** Prefix of BullMQ queues and of our Redis keys; tests isolate by prefix. */
  readonly prefix: string;
  readonly lease: Partial<JobLeaseOptions>;
  readonly dispatcher: Partial<ShardDispatcherOptions>;
  /** Weight versions kept besides checkpoints (workers may still read the previous one). */
  readonly keepWeights: number;
  /** Validation evaluates at most this many shards, evenly spaced over the validation windows. */
  readonly maxValidationShards: number;
  readonly log: (line: string) => void;
  readonly onProgress?: (progress: StepProgress) => void;
}

export const DEFAULT_COORDINATOR_OPTIONS: Omit<CoordinatorOptions, 'store' | 'redisUrl'> = {
  prefix: 'lstm',
  lease: {},
  dispatcher: {},
  keepWeights: 2,
  maxValidationShards: 64,
  log: () => undefined,
};

export interface StepProgress {
  readonly jobId: string;
  readonly metric: MetricRecord;
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
}

export interface RunJobOptions {
  /** Checkpoint and return (the job stays resumable) after this many steps of this run. */
  readonly stopAfterSteps?: number;
  /** Give up (the job stays as it is) when another coordinator still holds the lease after this long. */
  readonly leaseWaitMs?: number;
}

export interface JobOutcome {
  readonly jobId: string;
  /** 'running' when the coordinator stopped (SIGTERM) and left the job to be resumed. */
  readonly state: JobState;
  readonly message?: string;
  readonly step: number;
}

/** Thrown inside the step loop when a stop or cancel was asked for. */
class StopRequested extends Error {
  constructor(readonly cancel: boolean) {
    super(cancel ? 'cancel requested' : 'stop requested');
  }
}

interface RunState {
  step: number;
  params: Float32Array;
  optimizer: Optimizer;
  validation: ValidationState;
  metrics: MetricRecord[];
  metricsChunkStart: number;
  metricsBefore: number;
  lastCheckpoint: CheckpointRef | null;
  weightsSha256: string;
}

export class Coordinator {
  private readonly options: CoordinatorOptions;
  private readonly redis: Redis;
  private readonly dispatchers = new Map<string, ShardDispatcher>();
  private stopRequested = false;
  private closed = false;

  constructor(options: Partial<CoordinatorOptions> & Pick<CoordinatorOptions, 'store' | 'redisUrl'>) {
    this.options = { ...DEFAULT_COORDINATOR_OPTIONS, ...options };
    if (!Number.isInteger(this.options.keepWeights) || this.options.keepWeights < 1) {
      throw new RangeError(`keepWeights must be a positive integer, got ${this.options.keepWeights}`);
    }
    if (!Number.isInteger(this.options.maxValidationShards) || this.options.maxValidationShards < 1) {
      throw new RangeError(`maxValidationShards must be a positive integer, got ${this.options.maxValidationShards}`);
    }
    this.redis = connectRedis(this.options.redisUrl);
  }

  /** Asks every running job to checkpoint at the next step boundary and return. */
  requestStop(): void {
    this.stopRequested = true;
  }

  private dispatcherFor(record: JobRecord): ShardDispatcher {
    const queueName = gradientQueueName(record.profile);
    let dispatcher = this.dispatchers.get(queueName);
    if (dispatcher === undefined) {
      dispatcher = new ShardDispatcher(queueName, { redisUrl: this.options.redisUrl, prefix: this.options.prefix }, this.options.dispatcher);
      this.dispatchers.set(queueName, dispatcher);
    }
    return dispatcher;
  }

  /**
   * Runs the job until it completes, fails, is cancelled or a stop is requested. Waits for
   * the lease when another coordinator holds it.
   */
  async runJob(jobId: string, runOptions: RunJobOptions = {}): Promise<JobOutcome> {
    const record = await readJobRecord(this.options.store, jobId);
    for (;;) {
      const pointer = await readJobPointer(this.options.store, jobId);
      if (pointer !== null && isFinal(pointer.state)) {
        return { jobId, state: pointer.state, step: pointer.checkpoint?.step ?? 0, message: pointer.message ?? `job is already ${pointer.state}` };
      }
      const giveUpAt = Date.now() + (runOptions.leaseWaitMs ?? Infinity);
      const lease = await JobLease.acquire(this.redis, jobId, this.leaseOptions(), pointer?.fencingToken ?? 0, () => this.stopRequested || Date.now() > giveUpAt);
      if (lease === null) {
        return { jobId, state: pointer?.state ?? 'queued', step: pointer?.checkpoint?.step ?? 0, message: 'another coordinator holds the job' };
      }
      try {
        return await this.runGeneration(record, lease, runOptions);
      } catch (error) {
        if (error instanceof RedisResetError) {
          this.options.log(error.message);
          continue;
        }
        if (error instanceof LeaseLostError) {
          this.options.log(error.message);
          return { jobId, state: 'running', step: -1, message: error.message };
        }
        throw error;
      } finally {
        await lease.release();
      }
    }
  }

  private leaseOptions(): Partial<JobLeaseOptions> {
    return { prefix: this.options.prefix, ...this.options.lease };
  }

  private async runGeneration(record: JobRecord, lease: JobLease, runOptions: RunJobOptions): Promise<JobOutcome> {
    const { store, log } = this.options;
    const jobId = record.id;
    const previous = await readJobPointer(store, jobId);
    if (previous !== null && isFinal(previous.state)) return { jobId, state: previous.state, step: previous.checkpoint?.step ?? 0 };
    const generation = (previous?.generation ?? 0) + 1;
    const dataset = await this.planFor(record);
    const fenced = async <T>(write: () => Promise<T>): Promise<T> => {
      await lease.assertHeld();
      return write();
    };

    const state = await this.restore(record, previous);
    const stopAtStep = runOptions.stopAfterSteps === undefined ? undefined : state.step + runOptions.stopAfterSteps;
    await fenced(() =>
      writeJson(store, jobLatestKey(jobId), pointerOf(record, 'running', generation, lease.token, state.lastCheckpoint)),
    );
    await this.redis.set(generationKey(this.options.prefix, jobId), String(generation));
    await this.redis.del(cancelKey(this.options.prefix, jobId));
    const dispatcher = this.dispatcherFor(record);
    const stale = await this.removeOtherGenerations(dispatcher, jobId, generation);
    log(`job ${jobId}: generation ${generation}, from step ${state.step} of ${dataset.totalSteps}${stale > 0 ? `, dropped ${stale} stale shard jobs` : ''}`);
    await fenced(() => dropMetricsAfter(store, jobId, state.step));
    state.weightsSha256 = await fenced(() => writeWeights(store, jobId, state.step, state.params));

    const check = async (): Promise<void> => {
      // One round trip for the three looks; their order of precedence stays as written.
      const [current, held, cancelled] = await Promise.allSettled([
        this.redis.get(generationKey(this.options.prefix, jobId)),
        lease.assertHeld(),
        this.redis.exists(cancelKey(this.options.prefix, jobId)),
      ]);
      if (current.status === 'rejected') throw current.reason;
      if (current.value !== String(generation)) throw new RedisResetError(jobId);
      if (held.status === 'rejected') throw held.reason;
      if (cancelled.status === 'rejected') throw cancelled.reason;
      if (cancelled.value === 1) throw new StopRequested(true);
      if (this.stopRequested) throw new StopRequested(false);
    };
    // A step's metrics write and pruning run while the next step's shards compute; whatever
    // reads or replaces what they write waits for them first.
    let bookkeeping: Promise<void> = Promise.resolve();
    const settleBookkeeping = async (): Promise<void> => {
      const pending = bookkeeping;
      bookkeeping = Promise.resolve();
      await pending;
    };
    const checkpoint = async (): Promise<void> => {
      await settleBookkeeping();
      if (state.lastCheckpoint?.step === state.step) return;
      const position = dataset.position(state.step);
      state.lastCheckpoint = await fenced(() =>
        writeCheckpoint(
          store,
          {
            jobId,
            step: state.step,
            epoch: position.epoch,
            batchInEpoch: position.stepInEpoch,
            shuffleVersion: SHUFFLE_VERSION,
            datasetId: record.datasetId,
            profile: record.profile,
            validation: state.validation,
            metricsCount: state.metricsBefore + state.metrics.length,
            generation,
          },
          state.params,
          state.optimizer.exportState(),
        ),
      );
      await fenced(() => writeJson(store, jobLatestKey(jobId), pointerOf(record, 'running', generation, lease.token, state.lastCheckpoint)));
      state.metricsBefore += state.metrics.length;
      state.metrics = [];
      state.metricsChunkStart = state.step;
    };
    const finish = async (final: JobState, message?: string): Promise<JobOutcome> => {
      await settleBookkeeping();
      await fenced(() => writeJson(store, jobLatestKey(jobId), pointerOf(record, final, generation, lease.token, state.lastCheckpoint, message)));
      await this.redis.del(generationKey(this.options.prefix, jobId), cancelKey(this.options.prefix, jobId));
      return { jobId, state: final, step: state.step, ...(message === undefined ? {} : { message }) };
    };

    try {
      while (state.step < dataset.totalSteps) {
        await check();
        const stepStarted = Date.now();
        const position = dataset.position(state.step);
        const tasks = this.trainTasks(record, generation, state, dataset);
        // Each gradient is fetched as soon as its shard is in, while the others still compute.
        const fetches: Promise<ShardGradient>[] = [];
        const fetchGradient = (shard: number, result: GradientJobResult): Promise<ShardGradient> => {
          let fetch = fetches[shard];
          if (fetch === undefined) {
            fetch = getVerified(store, result.gradientKey!, result.gradientSha256!).then((bytes) => ({
              shard,
              gradient: decodeFloat32Vector(bytes),
              loss: result.loss,
              count: result.count,
            }));
            // Awaited below; until then a failure must not count as unhandled.
            fetch.catch(() => undefined);
            fetches[shard] = fetch;
          }
          return fetch;
        };
        const results = await this.runShards<GradientJobResult>(dispatcher, tasks, check, state.step, fetchGradient);
        const shards = await Promise.all(results.map((result, shard) => fetchGradient(shard, result)));
        await settleBookkeeping();
        const aggregated = aggregateShardGradients(shards, state.params.length);
        if (!Number.isFinite(aggregated.loss)) {
          throw new TrainingFailedError(jobId, `step ${state.step}: the training loss became ${aggregated.loss}; no weights were written for it`);
        }
        const badGradient = firstNonFinite(aggregated.gradient);
        if (badGradient >= 0) {
          throw new TrainingFailedError(jobId, `step ${state.step}: the gradient is not finite (parameter ${badGradient}); no weights were written for it`);
        }
        if (record.spec.training.clipNorm !== undefined) clipByGlobalNorm(aggregated.gradient, record.spec.training.clipNorm);
        const nextParams = state.params.slice();
        const nextOptimizer = state.optimizer;
        nextOptimizer.apply(nextParams, aggregated.gradient);
        const badWeight = firstNonFinite(nextParams);
        if (badWeight >= 0) {
          throw new TrainingFailedError(jobId, `step ${state.step}: the optimizer produced a non-finite weight (parameter ${badWeight}); it was not written`);
        }
        state.params = nextParams;
        state.step += 1;
        state.weightsSha256 = await fenced(() => writeWeights(store, jobId, state.step, state.params));
        // The training step ends here; validation and bookkeeping are not part of its speed.
        const stepMs = Date.now() - stepStarted;

        const epochEnd = state.step % dataset.stepsPerEpoch === 0;
        const runEnd = state.step === dataset.totalSteps;
        const validateEvery = record.spec.training.validateEvery;
        let validationLoss: number | null = null;
        if (dataset.validationShards > 0 && (epochEnd || runEnd || (validateEvery !== undefined && state.step % validateEvery === 0))) {
          validationLoss = await this.validate(record, generation, state, dataset, dispatcher, check);
          const improved = state.validation.bestLoss === null || validationLoss < state.validation.bestLoss;
          state.validation = {
            lastLoss: validationLoss,
            bestLoss: improved ? validationLoss : state.validation.bestLoss,
            bestStep: improved ? state.step : state.validation.bestStep,
          };
        }
        const metric: MetricRecord = {
          step: state.step,
          epoch: position.epoch,
          trainLoss: aggregated.loss,
          validationLoss,
          lastValidationLoss: state.validation.lastLoss,
          windowsPerSecond: (aggregated.count * 1000) / Math.max(1, stepMs),
          stepMs,
          shardComputeMs: results.reduce((sum, result) => sum + result.computeMs, 0),
          wallTimeMs: Date.now(),
          time: new Date().toISOString(),
        };
        state.metrics.push(metric);
        const chunk = { start: state.metricsChunkStart, records: [...state.metrics] };
        const prunedStep = state.step;
        bookkeeping = (async () => {
          await fenced(() => writeMetricsChunk(store, jobId, chunk.start, chunk.records));
          await this.prune(record, generation, prunedStep);
        })();
        bookkeeping.catch(() => undefined);
        this.options.onProgress?.({ jobId, metric, totalSteps: dataset.totalSteps, stepsPerEpoch: dataset.stepsPerEpoch });

        const checkpointEvery = record.spec.training.checkpointEvery;
        const bestNow = validationLoss !== null && state.validation.bestStep === state.step;
        if (epochEnd || runEnd || bestNow || (checkpointEvery !== undefined && state.step % checkpointEvery === 0)) await checkpoint();
        if (stopAtStep !== undefined && state.step >= stopAtStep && !runEnd) throw new StopRequested(false);
      }
      await checkpoint();
      await this.publishModel(record, state);
      log(`job ${jobId}: completed at step ${state.step}`);
      return await finish('completed');
    } catch (error) {
      if (error instanceof StopRequested) {
        await checkpoint();
        if (error.cancel) {
          log(`job ${jobId}: cancelled at step ${state.step}`);
          return await finish('cancelled', `cancelled at step ${state.step}`);
        }
        log(`job ${jobId}: stopped at step ${state.step}; checkpoint ${state.lastCheckpoint?.prefix ?? '(none)'}`);
        return { jobId, state: 'running', step: state.step, message: `stopped; checkpoint ${state.lastCheckpoint?.prefix ?? '(none)'}` };
      }
      if (error instanceof ShardFailedError) {
        return await finish('failed', `job ${jobId} step ${state.step} shard ${error.shard} failed after ${error.attempts} attempts: ${error.reason}`);
      }
      if (error instanceof TrainingFailedError) {
        log(error.message);
        return await finish('failed', error.message);
      }
      throw error;
    } finally {
      // A generation that ends on an error must not leave a write behind that would land
      // after the next generation's (a resume drops the metrics past its checkpoint).
      await bookkeeping.catch(() => undefined);
    }
  }

  private async runShards<R>(
    dispatcher: ShardDispatcher,
    tasks: ShardTask<GradientJobData>[],
    check: () => Promise<void>,
    step: number,
    onResult?: (index: number, result: R) => void,
  ): Promise<R[]> {
    try {
      return await dispatcher.run<GradientJobData, R>(tasks, check, onResult);
    } catch (error) {
      if (error instanceof ShardFailedError) this.options.log(`step ${step}: ${error.message}`);
      throw error;
    }
  }

  private trainTasks(record: JobRecord, generation: number, state: RunState, plan: ShardPlan): ShardTask<GradientJobData>[] {
    const position = plan.position(state.step);
    const tasks: ShardTask<GradientJobData>[] = [];
    for (let shard = 0; shard < plan.shardsInStep(position.stepInEpoch); shard++) {
      tasks.push({
        shard,
        taskId: shardTaskId({ jobId: record.id, generation, step: state.step, kind: 'train', shard }),
        data: this.taskData(record, generation, state, 'train', shard, position),
      });
    }
    return tasks;
  }

  private taskData(
    record: JobRecord,
    generation: number,
    state: RunState,
    kind: 'train' | 'validate',
    shard: number,
    position: { epoch: number; stepInEpoch: number },
  ): GradientJobData {
    return {
      jobId: record.id,
      generation,
      step: state.step,
      epoch: position.epoch,
      stepInEpoch: position.stepInEpoch,
      shard,
      kind,
      weightsKey: weightsKey(record.id, state.step),
      weightsSha256: state.weightsSha256,
      datasetId: record.datasetId,
    };
  }

  /** Mean validation loss over an evenly spaced subset of at most maxValidationShards shards. */
  private async validate(
    record: JobRecord,
    generation: number,
    state: RunState,
    plan: ShardPlan,
    dispatcher: ShardDispatcher,
    check: () => Promise<void>,
  ): Promise<number> {
    const position = plan.position(Math.max(0, state.step - 1));
    const shardCount = Math.min(plan.validationShards, this.options.maxValidationShards);
    const tasks: ShardTask<GradientJobData>[] = [];
    for (let i = 0; i < shardCount; i++) {
      const shard = Math.floor((i * plan.validationShards) / shardCount);
      tasks.push({
        shard,
        taskId: shardTaskId({ jobId: record.id, generation, step: state.step, kind: 'validate', shard }),
        data: this.taskData(record, generation, state, 'validate', shard, position),
      });
    }
    const results = await this.runShards<GradientJobResult>(dispatcher, tasks, check, state.step);
    let loss = 0;
    let count = 0;
    for (const result of results) {
      loss += result.loss;
      count += result.count;
    }
    const mean = loss / count;
    if (!Number.isFinite(mean)) throw new TrainingFailedError(record.id, `step ${state.step}: the validation loss became ${mean}`);
    return mean;
  }

  private async planFor(record: JobRecord): Promise<ShardPlan> {
    const manifest = await loadManifest(this.options.store, record.datasetId);
    return shardPlanOf(record, new WindowLayout(manifest.series, record.spec.data.window, manifest.source.name));
  }

  /** The state at the pointer's checkpoint, or a fresh (or warm-started) one. */
  private async restore(record: JobRecord, pointer: JobPointer | null): Promise<RunState> {
    const parameterCount = parameterLayout(record.model).size;
    const fresh = (params: Float32Array): RunState => ({
      step: 0,
      params,
      optimizer: createOptimizer(record.spec.training.optimizer, parameterCount),
      validation: { lastLoss: null, bestLoss: null, bestStep: null },
      metrics: [],
      metricsChunkStart: 0,
      metricsBefore: 0,
      lastCheckpoint: null,
      weightsSha256: '',
    });
    if (pointer?.checkpoint == null) {
      if (record.warmStartFrom !== undefined) {
        const source = await this.readCheckpointAt(record.warmStartFrom);
        if (source.weights.length !== parameterCount) {
          throw new TrainingFailedError(record.id, `warm start from ${record.warmStartFrom}: ${source.weights.length} parameters, this model has ${parameterCount}`);
        }
        return fresh(source.weights);
      }
      return fresh(initializeParameters(record.model, record.spec.training.seed));
    }
    const checkpoint = await readCheckpoint(this.options.store, record.id, pointer.checkpoint.step);
    const { manifest } = checkpoint;
    if (manifest.shuffleVersion !== SHUFFLE_VERSION) {
      throw new TrainingFailedError(record.id, `checkpoint ${pointer.checkpoint.prefix} was made with shuffle version ${manifest.shuffleVersion}; this build has ${SHUFFLE_VERSION}`);
    }
    if (manifest.datasetId !== record.datasetId) {
      throw new TrainingFailedError(record.id, `checkpoint ${pointer.checkpoint.prefix} is for dataset ${manifest.datasetId}, the job pins ${record.datasetId}`);
    }
    return {
      step: manifest.step,
      params: checkpoint.weights,
      optimizer: createOptimizer(record.spec.training.optimizer, parameterCount, checkpoint.optimizer),
      validation: manifest.validation,
      metrics: [],
      metricsChunkStart: manifest.step,
      metricsBefore: manifest.metricsCount,
      lastCheckpoint: pointer.checkpoint,
      weightsSha256: '',
    };
  }

  private async readCheckpointAt(prefix: string): Promise<{ weights: Float32Array }> {
    const match = /^jobs\/([^/]+)\/checkpoints\/(\d+)\/?$/.exec(prefix);
    if (match === null) throw new Error(`not a checkpoint prefix: ${prefix}`);
    return readCheckpoint(this.options.store, match[1]!, Number(match[2]));
  }

  private async removeOtherGenerations(dispatcher: ShardDispatcher, jobId: string, generation: number): Promise<number> {
    let removed = 0;
    for (let older = generation - 1; older >= Math.max(1, generation - 3); older--) {
      removed += await dispatcher.removeWaitingTasks(shardTaskPrefix(jobId, older));
    }
    return removed;
  }

  private async prune(record: JobRecord, generation: number, step: number): Promise<void> {
    const { store } = this.options;
    for (const key of await store.list(gradientStepPrefix(record.id, generation, step - 1))) await store.delete(key);
    const oldest = step - this.options.keepWeights;
    if (oldest >= 0) await store.delete(weightsKey(record.id, oldest));
  }

  /** models/<name>/latest.json -> this run's final checkpoint; best.json -> its lowest validation loss. */
  private async publishModel(record: JobRecord, state: RunState): Promise<void> {
    const { store } = this.options;
    const final = state.lastCheckpoint!;
    const entry = (checkpoint: CheckpointRef, validationLoss: number | null) => ({
      name: record.name,
      jobId: record.id,
      checkpoint: checkpoint.prefix,
      step: checkpoint.step,
      datasetId: record.datasetId,
      validationLoss,
      updatedAt: new Date().toISOString(),
    });
    await writeJson(store, modelLatestKey(record.name), entry(final, state.validation.lastLoss));
    if (state.validation.bestStep !== null && state.validation.bestLoss !== null) {
      const previousBest = await readJson<{ validationLoss: number | null }>(store, modelBestKey(record.name)).catch(() => null);
      if (previousBest?.validationLoss == null || state.validation.bestLoss < previousBest.validationLoss) {
        const best = { step: state.validation.bestStep, prefix: checkpointKeys(record.id, state.validation.bestStep).prefix };
        await writeJson(store, modelBestKey(record.name), entry(best, state.validation.bestLoss));
      }
    }
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

function isFinal(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

function pointerOf(
  record: JobRecord,
  state: JobState,
  generation: number,
  fencingToken: number,
  checkpoint: CheckpointRef | null,
  message?: string,
): JobPointer {
  return {
    version: 1,
    id: record.id,
    name: record.name,
    state,
    generation,
    fencingToken,
    checkpoint,
    totalSteps: record.totalSteps,
    ...(message === undefined ? {} : { message }),
    updatedAt: new Date().toISOString(),
  };
}
