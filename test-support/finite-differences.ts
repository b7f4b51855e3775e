// Gradients against central finite differences: the models and batches of the float64 check
// of the reference backend (lstm-core's model.test.ts), and a directional check for float32
// backends, where a per-parameter difference drowns in rounding.

import { describe, expect, it } from 'vitest';
import {
  createRng,
  evaluateLoss,
  initializeParameters,
  lossAndGradient,
  parameterLayout,
  predictionsPerWindow,
  type Batch,
  type ComputeBackend,
  type ModelSpec,
} from '@lstm-runner/lstm-core';

export const finiteDifferenceCases: [string, ModelSpec][] = [
  ['features, 1 layer, regression', { input: { kind: 'features', size: 3 }, layers: [5], head: { kind: 'regression', outputs: 2 } }],
  ['features, 3 layers, regression', { input: { kind: 'features', size: 3 }, layers: [4, 3, 5], head: { kind: 'regression', outputs: 2 } }],
  [
    'tokens, 1 layer, classification',
    { input: { kind: 'tokens', vocabulary: 6, embedding: 3 }, layers: [4], head: { kind: 'classification', classes: 6 } },
  ],
  [
    'tokens, 3 layers, classification',
    { input: { kind: 'tokens', vocabulary: 6, embedding: 3 }, layers: [3, 4, 2], head: { kind: 'classification', classes: 6 } },
  ],
  [
    'features, 2 layers, classification',
    { input: { kind: 'features', size: 2 }, layers: [3, 4], head: { kind: 'classification', classes: 3 } },
  ],
  [
    'tokens, 2 layers, classification at every timestep (output sequence)',
    {
      input: { kind: 'tokens', vocabulary: 5, embedding: 3 },
      layers: [3, 4],
      head: { kind: 'classification', classes: 5 },
      output: 'sequence',
    },
  ],
];

/** Parameters from the Keras init, with biases and scale disturbed so every gate and block matters. */
export function testParameters(spec: ModelSpec, seed: number): Float64Array {
  const rng = createRng(seed + 1000);
  return Float64Array.from(initializeParameters(spec, seed), (value) => 1.5 * value + 0.1 * rng.nextNormal());
}

export function testBatch(spec: ModelSpec, B: number, T: number, seed: number): Batch<Float64Array> {
  const rng = createRng(seed);
  const labels =
    spec.head.kind === 'regression'
      ? { targets: Float64Array.from({ length: B * spec.head.outputs }, () => rng.nextNormal()) }
      : {
          classes: Int32Array.from({ length: B * predictionsPerWindow(spec, T) }, () =>
            rng.nextInt(spec.head.kind === 'classification' ? spec.head.classes : 1),
          ),
        };
  const inputs =
    spec.input.kind === 'features'
      ? { features: Float64Array.from({ length: B * T * spec.input.size }, () => rng.nextNormal()) }
      : { tokens: Int32Array.from({ length: B * T }, () => rng.nextInt(spec.input.kind === 'tokens' ? spec.input.vocabulary : 1)) };
  return { B, T, ...inputs, ...labels };
}

/** The same batch in float32. */
export function float32Batch(batch: Batch<Float64Array>): Batch<Float32Array> {
  const { features, targets, ...rest } = batch;
  return {
    ...rest,
    ...(features === undefined ? {} : { features: Float32Array.from(features) }),
    ...(targets === undefined ? {} : { targets: Float32Array.from(targets) }),
  };
}

/**
 * Registers a suite for a float32 backend: for every parameter block, the gradient along a
 * random unit direction v inside the block against the central difference
 * (L(p + hv) - L(p - hv)) / 2h, Richardson-extrapolated from h and 2h so that the step can
 * be large enough for float32 rounding to stay small.
 */
export function describeDirectionalDerivatives(label: string, load: () => Promise<ComputeBackend<Float32Array>>): void {
  describe(`${label}: gradient along random directions against central finite differences`, () => {
    it.each(finiteDifferenceCases)('%s: every parameter block', async (_, spec) => {
      const backend = await load();
      const params = Float32Array.from(testParameters(spec, 7));
      const batch = float32Batch(testBatch(spec, 3, 4, 11));
      const grads = new Float32Array(params.length);
      lossAndGradient(backend, spec, params, batch, grads);
      const rng = createRng(5);
      const h = 1e-2;
      for (const block of parameterLayout(spec).blocks) {
        const direction = Float64Array.from({ length: block.size }, () => rng.nextNormal());
        const norm = Math.hypot(...direction);
        let analytic = 0;
        direction.forEach((value, k) => {
          direction[k] = value / norm;
          analytic += grads[block.offset + k]! * direction[k]!;
        });
        const lossAt = (step: number): number => {
          const moved = Float32Array.from(params);
          direction.forEach((value, k) => {
            moved[block.offset + k] = params[block.offset + k]! + step * value;
          });
          return evaluateLoss(backend, spec, moved, batch).loss;
        };
        const central = (step: number): number => (lossAt(step) - lossAt(-step)) / (2 * step);
        const numeric = (4 * central(h) - central(2 * h)) / 3;
        const scale = Math.max(...Array.from(grads.subarray(block.offset, block.offset + block.size), Math.abs));
        expect(Math.abs(numeric - analytic), `${block.name}: ${numeric} vs ${analytic}`).toBeLessThan(
          1e-3 * Math.max(scale, Math.abs(analytic)),
        );
      }
    });
  });
}
