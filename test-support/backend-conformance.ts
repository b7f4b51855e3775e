// Checks any ComputeBackend<Float32Array> must pass, shared by the backends' tests (the tfjs
// ones in lstm-core, the native one in lstm-native), and the helpers they use.

import { beforeAll, describe, expect, it } from 'vitest';
import {
  createReferenceBackend,
  createRng,
  initializeParameters,
  lossAndGradient,
  predictionsPerWindow,
  type Batch,
  type ComputeBackend,
  type LstmShape,
  type ModelSpec,
} from '@lstm-runner/lstm-core';

/** n normal draws times scale, seeded. */
export function randomArray(seed: number, n: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => scale * rng.nextNormal());
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

/** Every element within tolerance times the largest magnitude of `expected` (elements near
 * zero make a per-element relative error meaningless). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const scale = Math.max(maxAbs(expected), 1e-30);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!) / scale;
    if (!(error <= worst)) {
      worst = error;
      worstAt = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${worstAt} (scale ${scale})`).toBeLessThanOrEqual(tolerance);
}

const reference = createReferenceBackend('float32');
const TOLERANCE = 1e-5;

const lstmShapes: LstmShape[] = [
  { B: 1, T: 1, I: 3, H: 2 },
  { B: 1, T: 6, I: 4, H: 3 },
  { B: 3, T: 1, I: 2, H: 5 },
  { B: 4, T: 7, I: 5, H: 6 },
  { B: 2, T: 9, I: 1, H: 8 },
];

const modelCases: [string, ModelSpec][] = [
  ['features, 1 layer, regression', { input: { kind: 'features', size: 4 }, layers: [8], head: { kind: 'regression', outputs: 2 } }],
  ['features, 3 layers, regression', { input: { kind: 'features', size: 4 }, layers: [6, 8, 5], head: { kind: 'regression', outputs: 1 } }],
  [
    'tokens, 1 layer, classification',
    { input: { kind: 'tokens', vocabulary: 9, embedding: 5 }, layers: [8], head: { kind: 'classification', classes: 9 } },
  ],
  [
    'tokens, 2 layers, classification',
    { input: { kind: 'tokens', vocabulary: 7, embedding: 3 }, layers: [6, 4], head: { kind: 'classification', classes: 7 } },
  ],
  [
    'tokens, 1 layer, classification at every timestep',
    {
      input: { kind: 'tokens', vocabulary: 9, embedding: 5 },
      layers: [8],
      head: { kind: 'classification', classes: 9 },
      output: 'sequence',
    },
  ],
];

function modelBatch(spec: ModelSpec, B: number, T: number, seed: number): Batch<Float32Array> {
  const rng = createRng(seed);
  const inputs =
    spec.input.kind === 'features'
      ? { features: randomArray(seed + 1, B * T * spec.input.size) }
      : { tokens: Int32Array.from({ length: B * T }, () => rng.nextInt(spec.input.kind === 'tokens' ? spec.input.vocabulary : 1)) };
  const labels =
    spec.head.kind === 'regression'
      ? { targets: randomArray(seed + 2, B * spec.head.outputs) }
      : {
          classes: Int32Array.from({ length: B * predictionsPerWindow(spec, T) }, () =>
            rng.nextInt(spec.head.kind === 'classification' ? spec.head.classes : 1),
          ),
        };
  return { B, T, ...inputs, ...labels };
}

/**
 * Registers a suite checking a float32 backend's layers and whole-model gradients against the
 * reference backend in float32 (itself checked against finite differences and tfjs autodiff):
 * outputs start as garbage (they must be overwritten), parameter gradients start non-zero
 * (a backward must add into them).
 */
export function describeAgainstReference(label: string, load: () => Promise<ComputeBackend<Float32Array>>): void {
  describe(`${label} against the reference backend (float32)`, () => {
    let backend: ComputeBackend<Float32Array>;
    beforeAll(async () => {
      backend = await load();
    });

    it.each(lstmShapes)('lstm forward and backward, B=$B T=$T I=$I H=$H', (shape) => {
      const { B, T, I, H } = shape;
      const G = 4 * H;
      const weights = { kernel: randomArray(1, I * G, 0.5), recurrentKernel: randomArray(2, H * G, 0.5), bias: randomArray(3, G, 0.5) };
      const x = randomArray(4, B * T * I);
      const dHidden = randomArray(5, B * T * H);
      const run = (b: ComputeBackend<Float32Array>) => {
        // Outputs start as garbage: they must be overwritten. Gradients start non-zero: backward must add into them.
        const hidden = randomArray(9, B * T * H);
        const cache = b.lstmForward(shape, x, weights, true, hidden);
        const grads = { dKernel: randomArray(6, I * G), dRecurrentKernel: randomArray(7, H * G), dBias: randomArray(8, G) };
        const dX = randomArray(10, B * T * I);
        b.lstmBackward(shape, cache, dHidden, weights, grads, dX);
        return { hidden, dX, ...grads };
      };
      const ours = run(backend);
      const expected = run(reference);
      for (const key of ['hidden', 'dX', 'dKernel', 'dRecurrentKernel', 'dBias'] as const) {
        expectClose(ours[key], expected[key], TOLERANCE, key);
      }
    });

    it('lstm backward without input gradient gives the same weight gradients', () => {
      const shape = { B: 3, T: 4, I: 2, H: 3 };
      const weights = { kernel: randomArray(1, 24), recurrentKernel: randomArray(2, 36), bias: randomArray(3, 12) };
      const x = randomArray(4, 24);
      const dHidden = randomArray(5, 36);
      const hidden = new Float32Array(36);
      const grads = [0, 1].map(() => ({
        dKernel: new Float32Array(24),
        dRecurrentKernel: new Float32Array(36),
        dBias: new Float32Array(12),
      }));
      const dX = new Float32Array(24);
      backend.lstmBackward(shape, backend.lstmForward(shape, x, weights, true, hidden), dHidden, weights, grads[0]!, dX);
      backend.lstmBackward(shape, backend.lstmForward(shape, x, weights, true, hidden), dHidden, weights, grads[1]!, null);
      expect(dX.every((value) => value !== 0)).toBe(true);
      expectClose(grads[1]!.dKernel, grads[0]!.dKernel, 0, 'dKernel');
      expectClose(grads[1]!.dRecurrentKernel, grads[0]!.dRecurrentKernel, 0, 'dRecurrentKernel');
      expectClose(grads[1]!.dBias, grads[0]!.dBias, 0, 'dBias');
    });

    it.each([
      { B: 1, H: 3, K: 1 },
      { B: 5, H: 4, K: 7 },
    ])('dense forward and backward, B=$B H=$H K=$K', (shape) => {
      const { B, H, K } = shape;
      const h = randomArray(1, B * H);
      const kernel = randomArray(2, H * K);
      const bias = randomArray(3, K);
      const dY = randomArray(4, B * K);
      const run = (b: ComputeBackend<Float32Array>) => {
        const y = randomArray(7, B * K);
        b.denseForward(shape, h, kernel, bias, y);
        const dKernel = randomArray(5, H * K);
        const dBias = randomArray(6, K);
        const dH = randomArray(8, B * H);
        b.denseBackward(shape, h, dY, kernel, dKernel, dBias, dH);
        return { y, dH, dKernel, dBias };
      };
      const ours = run(backend);
      const expected = run(reference);
      for (const key of ['y', 'dH', 'dKernel', 'dBias'] as const) expectClose(ours[key], expected[key], TOLERANCE, key);
    });

    it('embedding lookup and scatter-add with repeated tokens', () => {
      const E = 3;
      const table = randomArray(1, 5 * E);
      const tokens = Int32Array.from([2, 0, 2, 4, 2, 0]);
      const [x, expectedX] = [backend, reference].map((b) => {
        const out = randomArray(4, tokens.length * E);
        b.embeddingForward(tokens, table, E, out);
        return out;
      });
      expectClose(x!, expectedX!, 0, 'x');
      const dX = randomArray(2, tokens.length * E);
      const dTable = randomArray(3, 5 * E);
      const expected = Float32Array.from(dTable);
      tokens.forEach((token, n) => {
        for (let e = 0; e < E; e++) expected[token * E + e] = expected[token * E + e]! + dX[n * E + e]!;
      });
      backend.embeddingBackward(tokens, dX, dTable, E);
      expectClose(dTable, expected, 0, 'dTable');
    });

    it.each(modelCases)('whole model (%s): loss and gradient', (_, spec) => {
      const params = initializeParameters(spec, 11).map((value, i) => 1.5 * value + 0.05 * Math.sin(i));
      const batch = modelBatch(spec, 3, 6, 12);
      const grads = [backend, reference].map((b) => {
        const g = new Float32Array(params.length);
        return { loss: lossAndGradient(b, spec, params, batch, g).loss, g };
      });
      expectClose([grads[0]!.loss], [grads[1]!.loss], TOLERANCE, 'loss');
      expectClose(grads[0]!.g, grads[1]!.g, TOLERANCE, 'gradient');
    });
  });
}

/**
 * Registers a suite on the interface's contract beyond the numbers: a cache serves one
 * backward of the backend that made it, bad lengths and tokens are named, dispose is final.
 * `load` must give a new instance on every call.
 */
export function describeBackendContract(label: string, load: () => Promise<ComputeBackend<Float32Array>>): void {
  describe(`${label}: the ComputeBackend contract`, () => {
    let backend: ComputeBackend<Float32Array>;
    let another: ComputeBackend<Float32Array>;
    beforeAll(async () => {
      backend = await load();
      another = await load();
    });

    it('keeps nothing for the backward when not training, and refuses released or foreign caches', () => {
      const shape = { B: 2, T: 3, I: 2, H: 2 };
      const weights = { kernel: randomArray(1, 16), recurrentKernel: randomArray(2, 16), bias: randomArray(3, 8) };
      const x = randomArray(4, 12);
      const dHidden = randomArray(5, 12);
      const grads = { dKernel: new Float32Array(16), dRecurrentKernel: new Float32Array(16), dBias: new Float32Array(8) };
      const [hidden, trainingHidden, dX] = [12, 12, 12].map((length) => new Float32Array(length)) as [
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const inference = backend.lstmForward(shape, x, weights, false, hidden);
      backend.lstmBackward(shape, backend.lstmForward(shape, x, weights, true, trainingHidden), dHidden, weights, grads, null);
      expect(hidden).toEqual(trainingHidden);
      expect(() => backend.lstmBackward(shape, inference, dHidden, weights, grads, dX)).toThrow(/training = false/);
      const released = backend.lstmForward(shape, x, weights, true, hidden);
      backend.release(released);
      expect(() => backend.lstmBackward(shape, released, dHidden, weights, grads, dX)).toThrow(/released/);
      const consumed = backend.lstmForward(shape, x, weights, true, hidden);
      backend.lstmBackward(shape, consumed, dHidden, weights, grads, null);
      expect(() => backend.lstmBackward(shape, consumed, dHidden, weights, grads, null)).toThrow(/released/);
      const foreign = another.lstmForward(shape, x, weights, true, hidden);
      expect(() => backend.lstmBackward(shape, foreign, dHidden, weights, grads, dX)).toThrow(/not made by this backend/);
      another.release(foreign);
      const fromReference = reference.lstmForward(shape, x, weights, true, hidden);
      expect(() => backend.lstmBackward(shape, fromReference, dHidden, weights, grads, dX)).toThrow(/not made by this backend/);
    });

    it('names the wrong length and the bad token', () => {
      const shape = { B: 2, T: 3, I: 2, H: 2 };
      const weights = { kernel: randomArray(1, 16), recurrentKernel: randomArray(2, 16), bias: randomArray(3, 8) };
      expect(() => backend.lstmForward(shape, new Float32Array(11), weights, true, new Float32Array(12))).toThrow(
        /lstm input \[B,T,I\]: expected 12 values, got 11/,
      );
      expect(() => backend.lstmForward(shape, new Float32Array(12), weights, true, new Float32Array(13))).toThrow(
        /lstm hidden \[B,T,H\]: expected 12 values, got 13/,
      );
      expect(() => backend.embeddingForward(Int32Array.from([0, 5]), new Float32Array(10), 2, new Float32Array(4))).toThrow(
        /token 5 at position 1 is outside \[0, 5\)/,
      );
    });

    it('refuses calls after dispose, which it allows twice', async () => {
      const disposable = await load();
      disposable.dispose();
      disposable.dispose();
      expect(() =>
        disposable.denseForward({ B: 1, H: 1, K: 1 }, new Float32Array(1), new Float32Array(1), new Float32Array(1), new Float32Array(1)),
      ).toThrow(/disposed/);
    });
  });
}
