import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm } from './clip';
import { createOptimizer, deserializeOptimizerState, serializeOptimizerState, type OptimizerConfig } from './optimizer';
import { OptimizerStateError } from './errors/optimizer-state-error';
import { createRng } from './rng';

/** A deterministic sequence of gradient vectors, one per step. */
function gradientAt(step: number, n: number): Float32Array {
  const rng = createRng(1000 + step);
  return Float32Array.from({ length: n }, () => rng.nextNormal() * 0.1);
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('SGD with momentum', () => {
  it('matches hand-computed Keras steps', () => {
    const optimizer = createOptimizer({ type: 'sgd', learningRate: 0.1, momentum: 0.9 }, 2);
    const params = Float32Array.from([1, -2]);
    const grads = Float32Array.from([0.5, 0.25]);
    optimizer.apply(params, grads); // velocity = -0.1 * g = [-0.05, -0.025]
    expect(params[0]).toBeCloseTo(0.95, 6);
    expect(params[1]).toBeCloseTo(-2.025, 6);
    optimizer.apply(params, grads); // velocity = 0.9 * v - 0.1 * g = [-0.095, -0.0475]
    expect(params[0]).toBeCloseTo(0.855, 6);
    expect(params[1]).toBeCloseTo(-2.0725, 6);
    expect(optimizer.step).toBe(2);
  });

  it('without momentum is plain gradient descent', () => {
    const params = Float32Array.from([1]);
    createOptimizer({ type: 'sgd', learningRate: 0.5 }, 1).apply(params, Float32Array.from([0.25]));
    expect(params[0]).toBe(0.875);
  });

  it('follows tf.train.momentum', () => {
    const n = 16;
    const params = gradientAt(-1, n);
    const variable = tf.variable(tf.tensor1d(params.slice())); // tfjs may keep the array it is given
    const ours = createOptimizer({ type: 'sgd', learningRate: 0.05, momentum: 0.8 }, n);
    const theirs = tf.train.momentum(0.05, 0.8);
    for (let step = 0; step < 5; step++) {
      ours.apply(params, gradientAt(step, n));
      theirs.applyGradients([{ name: variable.name, tensor: tf.tensor1d(gradientAt(step, n)) }]);
    }
    const expected = variable.dataSync();
    params.forEach((value, k) => expect(value).toBeCloseTo(expected[k]!, 6));
    theirs.dispose();
    variable.dispose();
  });
});

describe('Adam', () => {
  it('matches a hand-computed first step with Keras defaults', () => {
    const optimizer = createOptimizer({ type: 'adam', learningRate: 0.01 }, 1);
    expect(optimizer.exportState().hyperparameters).toEqual({ learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    const params = Float32Array.from([1]);
    optimizer.apply(params, Float32Array.from([0.5]));
    // m = 0.05, v = 0.00025, alpha = 0.01 * sqrt(0.001) / 0.1; step = alpha * m / (sqrt(v) + 1e-7).
    const alpha = (0.01 * Math.sqrt(0.001)) / 0.1;
    expect(params[0]).toBeCloseTo(1 - (alpha * 0.05) / (Math.sqrt(0.00025) + 1e-7), 7);
    const { buffers } = optimizer.exportState() as Extract<ReturnType<typeof optimizer.exportState>, { type: 'adam' }>;
    expect(buffers.m[0]).toBeCloseTo(0.05, 8);
    expect(buffers.v[0]).toBeCloseTo(0.00025, 10);
  });

  it('follows tf.train.adam over several steps', () => {
    // tfjs adds epsilon to sqrt(v_hat), Keras to sqrt(v) before bias correction: the two
    // differ by about epsilon / sqrt(v) of a step: at most ~1e-4 of a step of 0.01 here.
    const n = 32;
    const params = gradientAt(-1, n);
    const variable = tf.variable(tf.tensor1d(params.slice())); // tfjs may keep the array it is given
    const ours = createOptimizer({ type: 'adam', learningRate: 0.01 }, n);
    const theirs = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
    for (let step = 0; step < 6; step++) {
      ours.apply(params, gradientAt(step, n));
      theirs.applyGradients([{ name: variable.name, tensor: tf.tensor1d(gradientAt(step, n)) }]);
    }
    const expected = variable.dataSync();
    params.forEach((value, k) => expect(Math.abs(value - expected[k]!)).toBeLessThan(1e-5));
    theirs.dispose();
    variable.dispose();
  });
});

describe('optimizer state', () => {
  const configs: OptimizerConfig[] = [
    { type: 'adam', learningRate: 0.003 },
    { type: 'sgd', learningRate: 0.02, momentum: 0.9 },
  ];

  it.each(configs)('$type: a serialized and restored optimizer continues bit-identically', (config) => {
    const n = 100;
    const straight = gradientAt(-1, n);
    const straightOptimizer = createOptimizer(config, n);
    for (let step = 0; step < 10; step++) straightOptimizer.apply(straight, gradientAt(step, n));

    const resumed = gradientAt(-1, n);
    const first = createOptimizer(config, n);
    for (let step = 0; step < 5; step++) first.apply(resumed, gradientAt(step, n));
    const bytes = serializeOptimizerState(first.exportState());
    const second = createOptimizer(config, n, deserializeOptimizerState(bytes));
    expect(second.step).toBe(5);
    for (let step = 5; step < 10; step++) second.apply(resumed, gradientAt(step, n));

    expect(new Uint8Array(resumed.buffer)).toEqual(new Uint8Array(straight.buffer));
    expect(serializeOptimizerState(second.exportState())).toEqual(serializeOptimizerState(straightOptimizer.exportState()));
  });

  it('exports a copy, not the live buffers', () => {
    const optimizer = createOptimizer({ type: 'sgd', learningRate: 0.1, momentum: 0.5 }, 2);
    const state = optimizer.exportState();
    optimizer.apply(new Float32Array(2), Float32Array.from([1, 1]));
    expect(state.step).toBe(0);
    expect(Array.from((state.buffers as { velocity: Float32Array }).velocity)).toEqual([0, 0]);
  });

  it('rejects damaged bytes and states that do not fit, with clear errors', () => {
    const state = createOptimizer({ type: 'adam', learningRate: 0.001 }, 4).exportState();
    const bytes = serializeOptimizerState(state);
    const damaged = (edit: (copy: Uint8Array) => Uint8Array): Uint8Array => edit(bytes.slice());
    expect(() => deserializeOptimizerState(bytes.subarray(0, 10))).toThrow(OptimizerStateError);
    expect(() => deserializeOptimizerState(damaged((copy) => ((copy[0] = 0), copy)))).toThrow(/bad magic/);
    expect(() => deserializeOptimizerState(damaged((copy) => ((copy[8] = 2), copy)))).toThrow(/format version 2 is not supported/);
    expect(() => deserializeOptimizerState(bytes.subarray(0, bytes.length - 4))).toThrow(/header describes \d+ bytes, got \d+/);
    expect(() => deserializeOptimizerState(damaged((copy) => ((copy[12] = 255), (copy[13] = 255), copy)))).toThrow(/runs past the end/);

    const restored = deserializeOptimizerState(bytes);
    expect(restored).toEqual(state);
    expect(() => createOptimizer({ type: 'sgd', learningRate: 0.001 }, 4, restored)).toThrow(
      /holds a 'adam' optimizer, the config asks for 'sgd'/,
    );
    expect(() => createOptimizer({ type: 'adam', learningRate: 0.01 }, 4, restored)).toThrow(/learningRate is 0.001, the config says 0.01/);
    expect(() => createOptimizer({ type: 'adam', learningRate: 0.001 }, 5, restored)).toThrow(
      /buffer 'm' has 4 elements, the model has 5 parameters/,
    );
  });

  it('validates hyperparameters', () => {
    expect(() => createOptimizer({ type: 'adam', learningRate: -1 }, 1)).toThrow(/optimizer.learningRate must be a positive number/);
    expect(() => createOptimizer({ type: 'sgd', learningRate: 0.1, momentum: 1 }, 1)).toThrow(/optimizer.momentum must be in \[0, 1\)/);
    expect(() => createOptimizer({ type: 'rmsprop', learningRate: 0.1 } as unknown as OptimizerConfig, 1)).toThrow(
      /optimizer.type must be 'sgd' or 'adam'/,
    );
  });
});

describe('clipByGlobalNorm', () => {
  it('returns the norm and scales only when above the limit', () => {
    const grads = Float64Array.from([3, 4]);
    expect(clipByGlobalNorm(grads, 10)).toBe(5);
    expect(Array.from(grads)).toEqual([3, 4]);
    expect(clipByGlobalNorm(grads, 1)).toBe(5);
    expect(grads[0]).toBeCloseTo(0.6, 15);
    expect(grads[1]).toBeCloseTo(0.8, 15);
  });

  it('leaves non-finite gradients for the caller to see', () => {
    const grads = Float32Array.from([Number.NaN, 1]);
    expect(clipByGlobalNorm(grads, 1)).toBeNaN();
    expect(grads[1]).toBe(1);
  });
});
