// Ours in bench:learning: the coordinator's step on the windows of bench/learning-data.ts's
// files, in process: each step's windows in shards of 32 (lossAndGradient on the backend),
// summed and averaged over the step's predictions by the runner's optimizerStep, clipped at
// clipNorm (null: not clipped), then the spec's optimizer. Text and CSV alike: the caller
// turns window starts into a batch and validates the parameters at the checkpoints.
import {
  createOptimizer,
  initializeParameters,
  lossAndGradient,
  ModelActivations,
  parameterLayout,
  type Batch,
  type ComputeBackend,
  type ModelInit,
  type ModelOutput,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import { optimizerStep, type ShardGradient } from '@lstm-runner/runner';
import type { LearningFiles } from './learning-data';

const SHARD_SIZE = 32;

export interface TrainingRun<V> {
  /** What `validate` said at each checkpoint step, by step. */
  readonly validation: Record<string, V>;
  readonly msPerStep: number;
}

export interface OursOptions<V> {
  readonly backend: ComputeBackend<Float32Array>;
  readonly spec: ModelSpec;
  /** The init seed. */
  readonly seed: number;
  readonly files: LearningFiles;
  /** Steps to validate after (0 = before training); trains to the last. */
  readonly checkpoints: readonly number[];
  readonly clipNorm: number | null;
  /** Window starts -> the batch the spec's model trains on. */
  readonly batchOf: (starts: Int32Array) => Batch<Float32Array>;
  readonly validate: (params: Float32Array) => V;
}

/** Our training of options.spec over the files' steps, validating at the checkpoints. */
export function trainOurs<V>(options: OursOptions<V>): TrainingRun<V> {
  const { backend, spec, files, checkpoints } = options;
  let params = initializeParameters(spec, options.seed);
  const optimizer = createOptimizer(files.meta.training.optimizer, params.length);
  const activations = new ModelActivations((length) => backend.allocate(length));
  const P = parameterLayout(spec).size;
  const validation: Record<string, V> = {};
  let trainMs = 0;
  const last = checkpoints.at(-1)!;
  for (let step = 0; step <= last; step++) {
    if (checkpoints.includes(step)) validation[step] = options.validate(params);
    if (step === last) break;
    const started = performance.now();
    const starts = files.trainStarts.subarray(files.stepOffsets[step]!, files.stepOffsets[step + 1]!);
    const shards: ShardGradient[] = [];
    for (let from = 0; from < starts.length; from += SHARD_SIZE) {
      const gradient = new Float32Array(P);
      const batch = options.batchOf(starts.subarray(from, from + SHARD_SIZE));
      const { loss, count } = lossAndGradient(backend, spec, params, batch, gradient, activations);
      shards.push({ shard: shards.length, gradient, loss, count });
    }
    const outcome = optimizerStep(params, optimizer, shards, options.clipNorm ?? undefined);
    if (outcome.kind === 'rejected') throw new Error(`step ${step}: ${outcome.reason}`);
    params = outcome.params;
    trainMs += performance.now() - started;
  }
  return { validation, msPerStep: trainMs / last };
}

export const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
export const round4 = (value: number): number => Math.round(value * 1e4) / 1e4;

export interface Config {
  readonly output: ModelOutput;
  readonly init: ModelInit;
}

/** What a comparison gets from bench:learning's command line. */
export interface LearningRun {
  readonly steps: number;
  readonly seeds: number;
  /** Steps to validate after: 0, every 100, and the last. */
  readonly checkpoints: readonly number[];
  readonly configs: readonly Config[];
  /** bench/results/<resultsName>.json */
  readonly resultsName: string;
  /** The run's settings and data, for the results file. */
  readonly describe: () => Record<string, unknown>;
}
