// The step loop of one generation of a job: each step's shards go to a ShardRunner (the
// queue), their gradients (or, beyond 8 shards under reduction version 2, the root of the
// workers' reduction tree) come from the store as they finish, optimizerStep makes the
// next weights, and the RunRecorder writes what must survive. Validation, checkpoints and the
// end of the run happen at the spec's boundaries. The loop knows nothing of Redis: `check`
// (from the coordinator) throws when the lease is lost, Redis was reset or a stop or cancel
// was asked for.
import { predictionsPerWindow, scheduledLearningRate } from '@lstm-runner/lstm-core';
import type { ShardPlan, StepPosition } from '@lstm-runner/data';
import { reductionVersionOf, type JobRecord, type JobState, type MetricRecord, type WrittenWeights } from '@lstm-runner/job-store';
import {
  parseShardTaskId,
  shardTaskId,
  type GradientJobData,
  type GradientJobResult,
  type GradientSum,
  type ReduceResult,
  type ShardKind,
  type TrainShardResult,
  type ValidationShardResult,
} from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { RedisResetError } from '../errors/redis-reset-error';
import { ShardFailedError } from '../errors/shard-failed-error';
import { StopRequested } from '../errors/stop-requested';
import { TrainingFailedError } from '../errors/training-failed-error';
import { countValidation, earlyStopDue, runEnding } from './early-stopping';
import type { ShardGradient } from './gradient-sum';
import { optimizerStep } from './optimizer-step';
import type { RunRecorder } from './run-recorder';
import type { TrainingState } from './run-state';
import type { ShardRunner, ShardTask } from './shard-runner';
import { StepReduction } from './step-reduction';

export interface StepProgress {
  readonly jobId: string;
  readonly metric: MetricRecord;
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
}

export interface JobOutcome {
  readonly jobId: string;
  /** 'running' when the coordinator stopped (SIGTERM) and left the job to be resumed. */
  readonly state: JobState;
  readonly message?: string;
  readonly step: number;
}

export interface TrainingLoopOptions {
  readonly store: ObjectStore;
  readonly record: JobRecord;
  readonly plan: ShardPlan;
  readonly generation: number;
  readonly shards: ShardRunner;
  readonly recorder: RunRecorder;
  /** Throws to abandon the run: lease lost, Redis reset, stop or cancel requested. */
  readonly check: () => Promise<void>;
  /** Checkpoint and stop (the job stays running) once the state reaches this step. */
  readonly stopAtStep?: number;
  /** Validation evaluates at most this many shards, evenly spaced over the validation windows. */
  readonly maxValidationShards: number;
  readonly log: (line: string) => void;
  readonly onProgress?: (progress: StepProgress) => void;
}

type TrainTask = ShardTask<GradientJobData>;

interface ResultOfKind {
  train: TrainShardResult;
  validate: ValidationShardResult;
  reduce: ReduceResult;
}

/** The checksum of per-step gradients under reduction version 2 (see GradientChecksum). */
const REDUCTION_CHECKSUM = 'crc32';

export class TrainingLoop {
  constructor(
    private readonly options: TrainingLoopOptions,
    private readonly state: TrainingState,
    /** Weights version state.step, as RunRecorder.open wrote them. */
    private weights: WrittenWeights,
  ) {}

  /** Runs steps until the job completes, fails, is cancelled or stopped; writes its final state. */
  async run(): Promise<JobOutcome> {
    const { recorder, record, plan, log } = this.options;
    const jobId = record.id;
    const stopping = record.spec.training.earlyStopping;
    try {
      // The stop decision is part of the checkpointed state: a resumed run ends where this one would.
      while (this.state.step < plan.totalSteps && !earlyStopDue(stopping, this.state.validation)) await this.step();
      await recorder.writeCheckpoint(this.state);
      const ending = runEnding(jobId, stopping, this.state.validation, this.state.step, plan.totalSteps);
      await recorder.complete(this.state, ending);
      log(`job ${jobId}: completed at step ${this.state.step}${ending.message === undefined ? '' : `: ${ending.message}`}`);
      return { jobId, state: 'completed', step: this.state.step, ...(ending.message === undefined ? {} : { message: ending.message }) };
    } catch (error) {
      if (error instanceof StopRequested) return this.stopped(error);
      if (error instanceof ShardFailedError) {
        const what = parseShardTaskId(error.taskId).kind === 'reduce' ? 'reduce node' : 'shard';
        return this.finish(
          'failed',
          `job ${jobId} step ${this.state.step} ${what} ${error.shard} failed after ${error.attempts} attempts: ${error.reason}`,
        );
      }
      if (error instanceof TrainingFailedError) {
        log(error.message);
        return this.finish('failed', error.message);
      }
      throw error;
    } finally {
      await recorder.drain();
    }
  }

  private async finish(state: JobState, message?: string): Promise<JobOutcome> {
    await this.options.recorder.finish(state, message);
    return { jobId: this.options.record.id, state, step: this.state.step, ...(message === undefined ? {} : { message }) };
  }

  private async stopped(stop: StopRequested): Promise<JobOutcome> {
    const { recorder, record, log } = this.options;
    await recorder.writeCheckpoint(this.state);
    if (stop.cancel) {
      log(`job ${record.id}: cancelled at step ${this.state.step}`);
      return this.finish('cancelled', `cancelled at step ${this.state.step}`);
    }
    const checkpoint = recorder.checkpoint?.prefix ?? '(none)';
    log(`job ${record.id}: stopped at step ${this.state.step}; checkpoint ${checkpoint}`);
    return { jobId: record.id, state: 'running', step: this.state.step, message: `stopped; checkpoint ${checkpoint}` };
  }

  /** One optimizer step, then what is due after it: validation, the metric record, a checkpoint. */
  private async step(): Promise<void> {
    const { check, plan, record, recorder, onProgress } = this.options;
    const checked = performance.now();
    await check();
    const started = Date.now();
    const position = plan.position(this.state.step);
    const { results, shards, waitMs } = await this.trainShards(position);
    await recorder.settle();
    const { optimizer, learningRateSchedule, clipNorm } = record.spec.training;
    const learningRate = scheduledLearningRate(optimizer.learningRate, learningRateSchedule, this.state.step, plan.totalSteps);
    const outcome = optimizerStep(this.state.params, this.state.optimizer, shards, clipNorm, learningRate);
    if (outcome.kind === 'rejected') throw new TrainingFailedError(record.id, `step ${this.state.step}: ${outcome.reason}`);
    this.state.params = outcome.params;
    this.state.step += 1;
    this.weights = await recorder.writeWeights(this.state);
    // The training step ends here; validation and bookkeeping are not part of its speed.
    const stepMs = Date.now() - started;
    // The coordinator's own part of it: the checks, the dispatch, the gradients (or the
    // reduction tree's root) not yet fetched when the workers' last sum was in, the sum, the
    // optimizer and the weights write (what does not overlap the workers, reduce tasks included).
    const serialMs = performance.now() - checked - waitMs;
    const step = this.state.step;
    const epochEnd = step % plan.stepsPerEpoch === 0;
    const runEnd = step === plan.totalSteps;
    const validationLoss = this.validationDue(epochEnd || runEnd) ? await this.validate() : null;
    const metric: MetricRecord = {
      step,
      epoch: position.epoch,
      trainLoss: outcome.loss,
      validationLoss,
      lastValidationLoss: this.state.validation.lastLoss,
      // count is predictions: T per window for a sequence model.
      windowsPerSecond: (outcome.count * 1000) / predictionsPerWindow(record.model, record.spec.data.window.lookBack) / Math.max(1, stepMs),
      stepMs,
      shardComputeMs: results.reduce((sum, result) => sum + result.computeMs, 0),
      serialMs,
      learningRate,
      wallTimeMs: Date.now(),
      time: new Date().toISOString(),
    };
    recorder.recordStep(metric);
    onProgress?.({ jobId: record.id, metric, totalSteps: plan.totalSteps, stepsPerEpoch: plan.stepsPerEpoch });
    const every = record.spec.training.checkpointEvery;
    const bestNow = validationLoss !== null && this.state.validation.bestStep === step;
    if (epochEnd || runEnd || bestNow || step % every === 0) await recorder.writeCheckpoint(this.state);
    if (this.options.stopAtStep !== undefined && step >= this.options.stopAtStep && !runEnd) throw new StopRequested(false);
  }

  private validationDue(boundary: boolean): boolean {
    const every = this.options.record.spec.training.validateEvery;
    return this.options.plan.validationShards > 0 && (boundary || (every !== undefined && this.state.step % every === 0));
  }

  /**
   * The step's training shards and, under reduction version 2 beyond 8 shards, the reduce
   * tasks of its tree; the sums the optimizer adds are fetched as soon as each is in.
   */
  private async trainShards(position: StepPosition): Promise<{ results: TrainShardResult[]; shards: ShardGradient[]; waitMs: number }> {
    const { plan, check, record, store } = this.options;
    const version = reductionVersionOf(record);
    const tasks: TrainTask[] = [];
    for (let shard = 0; shard < plan.shardsInStep(position.stepInEpoch); shard++) tasks.push(this.task('train', shard, position));
    const reduction = new StepReduction({ store, version, shardCount: tasks.length, reduce: (node, inputs) => this.reduce(node, inputs) });
    const onResult = (shard: number, result: GradientJobResult): void => {
      if (result.kind === 'train') reduction.addShard(shard, result);
    };
    let enqueuedAt = performance.now();
    const results = await this.runShards(tasks, onResult, () => (enqueuedAt = performance.now()));
    const trained = await Promise.all(results.map((result) => this.expectKind(result, 'train', check)));
    trained.forEach((result, shard) => reduction.addShard(shard, result));
    await reduction.inputsIn();
    const waitMs = performance.now() - enqueuedAt;
    return { results: trained, shards: await reduction.gradients(), waitMs };
  }

  /** One node of the step's reduction tree, summed by a worker: its sum in the store. */
  private async reduce(node: number, inputs: readonly GradientSum[]): Promise<GradientSum> {
    const { record, generation, check } = this.options;
    const step = this.state.step;
    const task: TrainTask = {
      shard: node,
      taskId: shardTaskId({ jobId: record.id, generation, step, kind: 'reduce', shard: node }),
      data: {
        jobId: record.id,
        generation,
        step,
        kind: 'reduce',
        shard: node,
        inputs: inputs.map(({ gradientKey, gradientChecksum, loss, count }) => ({ gradientKey, gradientChecksum, loss, count })),
        checksum: REDUCTION_CHECKSUM,
      },
    };
    const [result] = await this.runShards([task]);
    return this.expectKind(result!, 'reduce', check);
  }

  /** Mean validation loss over an evenly spaced subset of at most maxValidationShards shards; updates the validation state. */
  private async validate(): Promise<number> {
    const { plan, record, maxValidationShards, check } = this.options;
    const position = plan.position(Math.max(0, this.state.step - 1));
    const shardCount = Math.min(plan.validationShards, maxValidationShards);
    const tasks: TrainTask[] = [];
    for (let i = 0; i < shardCount; i++) tasks.push(this.task('validate', Math.floor((i * plan.validationShards) / shardCount), position));
    const results = await Promise.all((await this.runShards(tasks)).map((result) => this.expectKind(result, 'validate', check)));
    const loss = results.reduce((sum, result) => sum + result.loss, 0) / results.reduce((sum, result) => sum + result.count, 0);
    if (!Number.isFinite(loss)) throw new TrainingFailedError(record.id, `step ${this.state.step}: the validation loss became ${loss}`);
    const previous = this.state.validation;
    const improved = previous.bestLoss === null || loss < previous.bestLoss;
    const rule = record.spec.training.earlyStopping;
    this.state.validation = {
      lastLoss: loss,
      bestLoss: improved ? loss : previous.bestLoss,
      bestStep: improved ? this.state.step : previous.bestStep,
      // A new best's checkpoint is written next (writeCheckpoint names it); an old best keeps its own.
      ...(improved || previous.bestCheckpoint === undefined ? {} : { bestCheckpoint: previous.bestCheckpoint }),
      ...(rule === undefined ? {} : { earlyStopping: countValidation(rule, previous.earlyStopping, loss) }),
    };
    return loss;
  }

  private task(kind: ShardKind, shard: number, position: StepPosition): TrainTask {
    const { record, generation } = this.options;
    const step = this.state.step;
    return {
      shard,
      taskId: shardTaskId({ jobId: record.id, generation, step, kind, shard }),
      data: {
        jobId: record.id,
        generation,
        step,
        epoch: position.epoch,
        stepInEpoch: position.stepInEpoch,
        shard,
        kind,
        weightsKey: this.weights.key,
        weightsSha256: this.weights.sha256,
        datasetId: record.datasetId,
        // Version 1's tasks stay as they were (sha256).
        ...(reductionVersionOf(record) === 2 ? { checksum: REDUCTION_CHECKSUM } : {}),
      },
    };
  }

  private async runShards(
    tasks: readonly TrainTask[],
    onResult?: (index: number, result: GradientJobResult) => void,
    onEnqueued?: () => void,
  ): Promise<GradientJobResult[]> {
    try {
      return await this.options.shards.run<GradientJobData, GradientJobResult>(tasks, this.options.check, onResult, onEnqueued);
    } catch (error) {
      if (error instanceof ShardFailedError) this.options.log(`step ${this.state.step}: ${error.message}`);
      throw error;
    }
  }

  /**
   * The result as the kind asked for. A worker drops a shard whose generation is not the
   * job's current one in Redis: this generation is over, and `check` says why (another
   * coordinator owns the job, or Redis lost its state).
   */
  private async expectKind<K extends keyof ResultOfKind>(
    result: GradientJobResult,
    kind: K,
    check: () => Promise<void>,
  ): Promise<ResultOfKind[K]> {
    if (result.kind === 'dropped') {
      await check();
      throw new RedisResetError(this.options.record.id);
    }
    if (result.kind !== kind)
      throw new TrainingFailedError(this.options.record.id, `step ${this.state.step}: a ${kind} shard returned a ${result.kind} result`);
    return result as ResultOfKind[K];
  }
}
