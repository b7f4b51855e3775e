import { describe, expect, it } from 'vitest';
import { applyChronoInitialization, initializeParameters } from './init';
import { blockView, findBlock, parameterLayout } from './layout';
import type { ModelSpec } from './model-spec';

const spec: ModelSpec = {
  input: { kind: 'tokens', vocabulary: 30, embedding: 8 },
  layers: [16, 12],
  head: { kind: 'classification', classes: 30 },
};

describe('initializeParameters', () => {
  const layout = parameterLayout(spec);
  const params = initializeParameters(spec, 42);
  const block = (name: string): Float32Array => blockView(params, findBlock(layout, name));

  it('is a pure function of the seed', () => {
    expect(initializeParameters(spec, 42)).toEqual(params);
    expect(initializeParameters(spec, 43)).not.toEqual(params);
  });

  it('draws glorot uniform kernels and the embedding in [-0.05, 0.05]', () => {
    const within = (values: Float32Array, limit: number): boolean => values.every((value) => Math.abs(value) <= limit);
    expect(within(block('embedding/embeddings'), 0.05)).toBe(true);
    const kernel = block('lstm_2/kernel'); // [16, 48]
    const limit = Math.sqrt(6 / (16 + 48));
    expect(within(kernel, limit)).toBe(true);
    // Uniform on [-limit, limit] has variance limit^2 / 3.
    const variance = kernel.reduce((sum, value) => sum + value * value, 0) / kernel.length;
    expect(variance).toBeGreaterThan((0.8 * (limit * limit)) / 3);
    expect(variance).toBeLessThan((1.2 * (limit * limit)) / 3);
    expect(within(block('dense/kernel'), Math.sqrt(6 / (12 + 30)))).toBe(true);
  });

  it('makes recurrent kernels with orthonormal rows', () => {
    for (const [name, H] of [
      ['lstm_1/recurrent_kernel', 16],
      ['lstm_2/recurrent_kernel', 12],
    ] as const) {
      const U = block(name);
      for (let r = 0; r < H; r++) {
        for (let s = 0; s < H; s++) {
          let dot = 0;
          for (let c = 0; c < 4 * H; c++) dot += U[r * 4 * H + c]! * U[s * 4 * H + c]!;
          expect(dot).toBeCloseTo(r === s ? 1 : 0, 5);
        }
      }
    }
  });

  it('zeroes biases except the forget block, which is 1', () => {
    const bias = block('lstm_1/bias');
    expect(Array.from(bias)).toEqual([...Array(16).fill(0), ...Array(16).fill(1), ...Array(32).fill(0)]);
    expect(block('dense/bias').every((value) => value === 0)).toBe(true);
  });
});

describe("initializeParameters with init 'uniform' (PyTorch's defaults)", () => {
  const uniform: ModelSpec = { ...spec, init: 'uniform' };
  const layout = parameterLayout(uniform);
  const params = initializeParameters(uniform, 42);
  const block = (name: string): Float32Array => blockView(params, findBlock(layout, name));
  const variance = (values: Float32Array): number => values.reduce((sum, value) => sum + value * value, 0) / values.length;
  const within = (values: Float32Array, limit: number): boolean => values.every((value) => Math.abs(value) <= limit);

  it('is a pure function of the seed, and keras stays the default', () => {
    expect(initializeParameters(uniform, 42)).toEqual(params);
    expect(initializeParameters({ ...spec, init: 'keras' }, 42)).toEqual(initializeParameters(spec, 42));
    expect(params).not.toEqual(initializeParameters(spec, 42));
  });

  it('draws LSTM kernels uniform in +-1/sqrt(H) and biases as the sum of two such draws', () => {
    for (const [n, H] of [
      [1, 16],
      [2, 12],
    ] as const) {
      const limit = 1 / Math.sqrt(H);
      for (const name of [`lstm_${n}/kernel`, `lstm_${n}/recurrent_kernel`]) {
        expect(within(block(name), limit), name).toBe(true);
        expect(variance(block(name)) / ((limit * limit) / 3), name).toBeGreaterThan(0.8);
        expect(variance(block(name)) / ((limit * limit) / 3), name).toBeLessThan(1.2);
      }
      const bias = block(`lstm_${n}/bias`);
      expect(within(bias, 2 * limit)).toBe(true);
      expect(bias.some((value) => Math.abs(value) > limit)).toBe(true);
    }
  });

  it('draws the embedding N(0, 1) and the dense layer uniform in +-1/sqrt(fan_in)', () => {
    expect(variance(block('embedding/embeddings'))).toBeGreaterThan(0.8);
    expect(variance(block('embedding/embeddings'))).toBeLessThan(1.2);
    expect(within(block('dense/kernel'), 1 / Math.sqrt(12))).toBe(true);
    expect(within(block('dense/bias'), 1 / Math.sqrt(12))).toBe(true);
    expect(block('dense/bias').some((value) => value !== 0)).toBe(true);
  });
});

describe('applyChronoInitialization', () => {
  it('sets forget biases to log(U[1, maxLag - 1]) and input biases to their negatives, seeded', () => {
    const params = initializeParameters(spec, 42);
    applyChronoInitialization(spec, params, 100, 7);
    const again = initializeParameters(spec, 42);
    applyChronoInitialization(spec, again, 100, 7);
    expect(again).toEqual(params);
    const layout = parameterLayout(spec);
    for (const [name, H] of [
      ['lstm_1/bias', 16],
      ['lstm_2/bias', 12],
    ] as const) {
      const bias = blockView(params, findBlock(layout, name));
      for (let k = 0; k < H; k++) {
        expect(bias[H + k]).toBeGreaterThanOrEqual(0);
        expect(bias[H + k]).toBeLessThanOrEqual(Math.log(99) + 1e-6);
        expect(bias[k]).toBe(-bias[H + k]!);
        expect(bias[2 * H + k]).toBe(0);
        expect(bias[3 * H + k]).toBe(0);
      }
    }
    // Kernels are untouched.
    expect(blockView(params, findBlock(layout, 'lstm_1/kernel'))).toEqual(
      blockView(initializeParameters(spec, 42), findBlock(layout, 'lstm_1/kernel')),
    );
  });
});
