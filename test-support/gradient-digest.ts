// One training step's loss and gradient on a backend, as a digest: what determinism tests
// compare across runs, processes and threads. The workloads are the benchmark's two models
// (bench/core.bench.ts) at shard size.

import { createHash } from 'node:crypto';
import { createRng, initializeParameters, lossAndGradient, type Batch, type ComputeBackend, type ModelSpec } from '@lstm-runner/lstm-core';

export interface DigestWorkload {
  readonly spec: ModelSpec;
  readonly B: number;
  readonly T: number;
}

export const DIGEST_WORKLOADS = {
  charLm: {
    spec: { input: { kind: 'tokens', vocabulary: 60, embedding: 50 }, layers: [128], head: { kind: 'classification', classes: 60 } },
    B: 32,
    T: 100,
  },
  timeSeries: {
    spec: { input: { kind: 'features', size: 10 }, layers: [64, 64, 64, 64], head: { kind: 'regression', outputs: 1 } },
    B: 32,
    T: 30,
  },
} as const satisfies Record<string, DigestWorkload>;

export type DigestWorkloadName = keyof typeof DIGEST_WORKLOADS;

/** The workload's seeded parameters and batch, of B windows (default the workload's). */
export function digestInputs(name: DigestWorkloadName, windows?: number): { params: Float32Array; batch: Batch<Float32Array> } {
  const { spec, T } = DIGEST_WORKLOADS[name] as DigestWorkload;
  const B = windows ?? DIGEST_WORKLOADS[name].B;
  const rng = createRng(42);
  const batch: Batch<Float32Array> =
    spec.input.kind === 'tokens'
      ? {
          B,
          T,
          tokens: Int32Array.from({ length: B * T }, () => rng.nextInt(spec.input.kind === 'tokens' ? spec.input.vocabulary : 1)),
          classes: Int32Array.from({ length: B }, () => rng.nextInt(spec.head.kind === 'classification' ? spec.head.classes : 1)),
        }
      : {
          B,
          T,
          features: Float32Array.from({ length: B * T * (spec.input.kind === 'features' ? spec.input.size : 0) }, () => rng.nextNormal()),
          targets: Float32Array.from({ length: B }, () => rng.nextNormal()),
        };
  return { params: initializeParameters(spec, 1), batch };
}

/** The workload's summed loss and gradient (from a zeroed gradient), on B windows (default the workload's). */
export function stepGradient(
  backend: ComputeBackend<Float32Array>,
  name: DigestWorkloadName,
  windows?: number,
): { loss: number; grads: Float32Array } {
  const { params, batch } = digestInputs(name, windows);
  const grads = new Float32Array(params.length);
  const { loss } = lossAndGradient(backend, DIGEST_WORKLOADS[name].spec, params, batch, grads);
  return { loss, grads };
}

/** sha256 of the loss (float64) and the gradient's bytes. */
export function gradientDigest(backend: ComputeBackend<Float32Array>, name: DigestWorkloadName): string {
  const { loss, grads } = stepGradient(backend, name);
  return createHash('sha256')
    .update(new Float64Array([loss]))
    .update(grads)
    .digest('hex');
}
