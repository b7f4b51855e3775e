import { describe, expect, it } from 'vitest';
import { parameterLayout } from './layout';
import type { ModelSpec } from './model-spec';
import { batchForOutput, evaluateLoss, lossAndGradient, ModelActivations, type Batch } from './model';
import { createReferenceBackend } from './reference';
import { finiteDifferenceCases as cases, testBatch, testParameters } from '../../../test-support/finite-differences';

const float64 = createReferenceBackend('float64');

describe('lossAndGradient against central finite differences (float64)', () => {
  it.each(cases)('%s: every parameter block', (_, spec) => {
    const params = testParameters(spec, 7);
    const batch = testBatch(spec, 3, 4, 11);
    const grads = new Float64Array(params.length);
    const { loss, count } = lossAndGradient(float64, spec, params, batch, grads);
    expect(count).toBe(spec.output === 'sequence' ? 3 * 4 : 3);
    expect(evaluateLoss(float64, spec, params, batch).loss).toBe(loss);

    const eps = 1e-6;
    for (const block of parameterLayout(spec).blocks) {
      let maxError = 0;
      let maxGradient = 0;
      for (let k = block.offset; k < block.offset + block.size; k++) {
        const saved = params[k]!;
        params[k] = saved + eps;
        const up = evaluateLoss(float64, spec, params, batch).loss;
        params[k] = saved - eps;
        const down = evaluateLoss(float64, spec, params, batch).loss;
        params[k] = saved;
        const numeric = (up - down) / (2 * eps);
        maxError = Math.max(maxError, Math.abs(numeric - grads[k]!));
        maxGradient = Math.max(maxGradient, Math.abs(grads[k]!));
      }
      expect(maxGradient, block.name).toBeGreaterThan(1e-4);
      expect(maxError / maxGradient, block.name).toBeLessThan(1e-6);
    }
  });
});

describe('lossAndGradient', () => {
  const spec = cases[1]![1];
  const params = testParameters(spec, 3);
  const batch = testBatch(spec, 4, 6, 5);

  it('adds into the gradient it is given and is bit-identical on the same inputs', () => {
    const once = new Float64Array(params.length);
    lossAndGradient(float64, spec, params, batch, once);
    const twice = new Float64Array(params.length);
    lossAndGradient(float64, spec, params, batch, twice);
    lossAndGradient(float64, spec, params, batch, twice);
    // Not bit-exact: the second call adds into non-zero sums, a different rounding order.
    twice.forEach((value, k) => expect(value).toBeCloseTo(2 * once[k]!, 12));
    const again = new Float64Array(params.length);
    lossAndGradient(float64, spec, params, batch, again);
    expect(again).toEqual(once);
  });

  it.each(cases)('with activations reused across calls and shapes, gives what fresh ones give: %s', (_, modelSpec) => {
    const modelParams = testParameters(modelSpec, 7);
    const activations = new ModelActivations((length) => Float64Array.from({ length }, () => Number.NaN));
    const fresh = (b: Batch<Float64Array>) => {
      const grads = new Float64Array(modelParams.length);
      return { grads, loss: lossAndGradient(float64, modelSpec, modelParams, b, grads).loss };
    };
    const reused = (b: Batch<Float64Array>) => {
      const grads = new Float64Array(modelParams.length);
      return { grads, loss: lossAndGradient(float64, modelSpec, modelParams, b, grads, activations).loss };
    };
    // A shape change, a forward-only call and a second batch in between: nothing may leak from one call into the next.
    const batches = [testBatch(modelSpec, 3, 5, 1), testBatch(modelSpec, 2, 4, 2), testBatch(modelSpec, 3, 5, 3)];
    for (const b of batches) {
      expect(evaluateLoss(float64, modelSpec, modelParams, b, activations).loss).toBe(
        evaluateLoss(float64, modelSpec, modelParams, b).loss,
      );
      expect(reused(b)).toEqual(fresh(b));
    }
  });

  it('sums over windows: the loss of a batch is the sum of its halves', () => {
    const half = (from: number): Batch<Float64Array> => ({
      B: 2,
      T: 6,
      features: batch.features!.subarray(from * 6 * 3, (from + 2) * 6 * 3),
      targets: batch.targets!.subarray(from * 2, (from + 2) * 2),
    });
    const whole = evaluateLoss(float64, spec, params, batch).loss;
    expect(evaluateLoss(float64, spec, params, half(0)).loss + evaluateLoss(float64, spec, params, half(2)).loss).toBeCloseTo(whole, 12);
  });

  it('runs in float32 to float tolerance of float64', () => {
    const float32 = createReferenceBackend('float32');
    const grads64 = new Float64Array(params.length);
    const loss64 = lossAndGradient(float64, spec, params, batch, grads64).loss;
    const grads32 = new Float32Array(params.length);
    const batch32: Batch<Float32Array> = {
      B: 4,
      T: 6,
      features: Float32Array.from(batch.features!),
      targets: Float32Array.from(batch.targets!),
    };
    const loss32 = lossAndGradient(float32, spec, Float32Array.from(params), batch32, grads32).loss;
    expect(Math.abs(loss32 - loss64) / loss64).toBeLessThan(1e-5);
    const scale = Math.max(...grads64.map(Math.abs));
    expect(Math.max(...grads32.map((value, k) => Math.abs(value - grads64[k]!))) / scale).toBeLessThan(1e-5);
  });

  it('names what is wrong with a batch', () => {
    const grads = new Float64Array(params.length);
    expect(() => lossAndGradient(float64, spec, params, { ...batch, features: new Float64Array(5) }, grads)).toThrow(
      /batch.features must be \[B,T,I\] = \[4,6,3\] = 72 elements, got 5/,
    );
    expect(() => lossAndGradient(float64, spec, params, { B: 4, T: 6, features: batch.features! }, grads)).toThrow(/needs targets/);
    const tokens = cases[2]![1];
    expect(() =>
      evaluateLoss(float64, tokens, testParameters(tokens, 1), {
        B: 1,
        T: 2,
        tokens: Int32Array.from([1, 9]),
        classes: Int32Array.from([0]),
      }),
    ).toThrow(/token 9 at position 1 is outside the vocabulary \[0, 6\)/);
  });

  it("with output 'sequence', sums the last-output loss of every prefix of the window", () => {
    const sequence = cases.find(([, modelSpec]) => modelSpec.output === 'sequence')![1];
    const lastSpec: ModelSpec = { ...sequence, output: 'last' };
    const sequenceParams = testParameters(sequence, 3);
    const windows = testBatch(sequence, 2, 5, 9);
    const prefixes = [1, 2, 3, 4, 5].map((t) => {
      const tokens = Int32Array.from({ length: 2 * t }, (_, k) => windows.tokens![Math.floor(k / t) * 5 + (k % t)]!);
      const classes = Int32Array.from([windows.classes![t - 1]!, windows.classes![5 + t - 1]!]);
      return evaluateLoss(float64, lastSpec, sequenceParams, { B: 2, T: t, tokens, classes }).loss;
    });
    const { loss, count } = evaluateLoss(float64, sequence, sequenceParams, windows);
    expect(count).toBe(10);
    expect(loss).toBeCloseTo(
      prefixes.reduce((sum, value) => sum + value, 0),
      12,
    );
  });

  it('batchForOutput turns a horizon-1 text batch into the next token at every timestep', () => {
    const sequence = cases.find(([, modelSpec]) => modelSpec.output === 'sequence')![1];
    const windows = { B: 2, T: 3, tokens: Int32Array.from([1, 2, 3, 4, 0, 1]), classes: Int32Array.from([4, 2]) };
    expect(batchForOutput(sequence, windows).classes).toEqual(Int32Array.from([2, 3, 4, 0, 1, 2]));
    expect(batchForOutput(cases[2]![1], windows)).toBe(windows);
    expect(() => evaluateLoss(float64, sequence, testParameters(sequence, 1), windows)).toThrow(/classes must be \[B\*T\] = \[6\]/);
  });

  it('returns a non-finite loss for the caller to detect', () => {
    const broken = params.slice();
    broken[broken.length - 1] = Number.NaN;
    expect(evaluateLoss(float64, spec, broken, batch).loss).toBeNaN();
  });
});
