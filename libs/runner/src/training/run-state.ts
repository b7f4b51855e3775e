// Where a generation of a job starts: the pointer's checkpoint (bit-identical resume), or
// fresh weights, or the weights of the checkpoint a scheduled firing warm-starts from.
import { createOptimizer, initializeParameters, parameterLayout, type Optimizer } from '@lstm-runner/lstm-core';
import {
  readCheckpoint,
  reductionVersionOf,
  shuffleOf,
  type CheckpointRef,
  type JobPointer,
  type JobRecord,
  type ValidationState,
} from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';
import { TrainingFailedError } from '../errors/training-failed-error';

/** What the step loop changes: P = parameter count. */
export interface TrainingState {
  /** Optimizer steps done. */
  step: number;
  /** The weights of version `step` [P]. */
  params: Float32Array;
  readonly optimizer: Optimizer;
  validation: ValidationState;
}

export interface RestoredRun {
  readonly training: TrainingState;
  /** The checkpoint it starts from, if any. */
  readonly checkpoint: CheckpointRef | null;
  /** Metric records the store holds up to that checkpoint. */
  readonly metricsCount: number;
}

const NOT_VALIDATED: ValidationState = { lastLoss: null, bestLoss: null, bestStep: null };

export async function restoreRun(store: ObjectStore, record: JobRecord, pointer: JobPointer | null): Promise<RestoredRun> {
  const parameterCount = parameterLayout(record.model).size;
  const optimizerSpec = record.spec.training.optimizer;
  if (pointer?.checkpoint == null) {
    let params = initializeParameters(record.model, record.spec.training.seed);
    if (record.warmStartFrom !== undefined) {
      params = (await readCheckpoint(store, record.warmStartFrom)).weights;
      if (params.length !== parameterCount) {
        throw new TrainingFailedError(
          record.id,
          `warm start from ${record.warmStartFrom}: ${params.length} parameters, this model has ${parameterCount}`,
        );
      }
    }
    return {
      training: { step: 0, params, optimizer: createOptimizer(optimizerSpec, parameterCount), validation: NOT_VALIDATED },
      checkpoint: null,
      metricsCount: 0,
    };
  }
  const { manifest, weights, optimizer } = await readCheckpoint(store, pointer.checkpoint.prefix);
  const shuffleVersion = shuffleOf(record).version;
  if (manifest.shuffleVersion !== shuffleVersion) {
    throw new TrainingFailedError(
      record.id,
      `checkpoint ${pointer.checkpoint.prefix} was made with shuffle version ${manifest.shuffleVersion}; the job shuffles with version ${shuffleVersion}`,
    );
  }
  const reductionVersion = reductionVersionOf(record);
  if ((manifest.reductionVersion ?? 1) !== reductionVersion) {
    throw new TrainingFailedError(
      record.id,
      `checkpoint ${pointer.checkpoint.prefix} was made with reduction version ${manifest.reductionVersion ?? 1}; the job sums its gradients with version ${reductionVersion}`,
    );
  }
  if (manifest.datasetId !== record.datasetId) {
    throw new TrainingFailedError(
      record.id,
      `checkpoint ${pointer.checkpoint.prefix} is for dataset ${manifest.datasetId}, the job pins ${record.datasetId}`,
    );
  }
  return {
    training: {
      step: manifest.step,
      params: weights,
      optimizer: createOptimizer(optimizerSpec, parameterCount, optimizer),
      validation: manifest.validation,
    },
    checkpoint: pointer.checkpoint,
    metricsCount: manifest.metricsCount,
  };
}
