import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ComputeBackend } from '../backend';
import { initializeParameters } from '../init';
import { lossAndGradient, type Batch } from '../model';
import { createReferenceBackend } from '../reference';
import type { ModelSpec } from '../model-spec';
import { createTfjsBackend } from './tfjs-backend';
import { randomArray } from './testing';

const charLm: ModelSpec = {
  input: { kind: 'tokens', vocabulary: 11, embedding: 4 },
  layers: [8],
  head: { kind: 'classification', classes: 11 },
};
const series: ModelSpec = { input: { kind: 'features', size: 3 }, layers: [5, 6, 4], head: { kind: 'regression', outputs: 1 } };
const B = 4;
const T = 6;
const charBatch: Batch<Float32Array> = {
  B,
  T,
  tokens: Int32Array.from({ length: B * T }, (_, n) => (n * 5 + 1) % 11),
  classes: Int32Array.from([3, 0, 10, 3]),
};
const seriesBatch: Batch<Float32Array> = { B, T, features: randomArray(1, B * T * 3), targets: randomArray(2, B) };

function step(backend: ComputeBackend<Float32Array>, spec: ModelSpec, batch: Batch<Float32Array>): { loss: number; grads: Float32Array } {
  const params = initializeParameters(spec, 5);
  const grads = new Float32Array(params.length);
  return { loss: lossAndGradient(backend, spec, params, batch, grads).loss, grads };
}

describe('tfjs backend', () => {
  let wasm: ComputeBackend<Float32Array>;
  let cpu: ComputeBackend<Float32Array>;
  beforeAll(async () => {
    wasm = await createTfjsBackend('wasm');
    cpu = await createTfjsBackend('cpu');
  });

  it('describes itself with the tfjs package, version and threads', () => {
    expect(wasm.name).toBe('wasm');
    expect(wasm.description).toMatch(
      /^wasm: tfjs-core 4\.\d+\.\d+ on @tensorflow\/tfjs-backend-wasm 4\.\d+\.\d+ \((no )?SIMD, \d+ threads?\)$/,
    );
    expect(cpu.description).toMatch(/^cpu: tfjs-core .* on @tensorflow\/tfjs-backend-cpu /);
  });

  it.each([
    ['char-LM', charLm, charBatch],
    ['time series', series, seriesBatch],
  ] as const)('%s: no tensor outlives a training step', (_, spec, batch) => {
    step(wasm, spec, batch);
    const before = tf.memory().numTensors;
    for (let n = 0; n < 3; n++) step(wasm, spec, batch);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives bit-identical gradients for the same inputs, and after switching backends', () => {
    const first = step(wasm, charLm, charBatch);
    const second = step(wasm, charLm, charBatch);
    const onCpu = step(cpu, charLm, charBatch);
    const third = step(wasm, charLm, charBatch);
    expect(tf.getBackend()).toBe('wasm');
    for (const other of [second, third]) {
      expect(other.loss).toBe(first.loss);
      expect(Buffer.from(other.grads.buffer).equals(Buffer.from(first.grads.buffer))).toBe(true);
    }
    // cpu is a different numerics profile: close, not necessarily identical.
    expect(Math.abs(onCpu.loss - first.loss)).toBeLessThan(1e-5 * Math.abs(first.loss));
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
    const inference = wasm.lstmForward(shape, x, weights, false, hidden);
    wasm.lstmBackward(shape, wasm.lstmForward(shape, x, weights, true, trainingHidden), dHidden, weights, grads, null);
    expect(hidden).toEqual(trainingHidden);
    expect(() => wasm.lstmBackward(shape, inference, dHidden, weights, grads, dX)).toThrow(/training = false/);
    const released = wasm.lstmForward(shape, x, weights, true, hidden);
    wasm.release(released);
    expect(() => wasm.lstmBackward(shape, released, dHidden, weights, grads, dX)).toThrow(/released/);
    const consumed = wasm.lstmForward(shape, x, weights, true, hidden);
    wasm.lstmBackward(shape, consumed, dHidden, weights, grads, null);
    expect(() => wasm.lstmBackward(shape, consumed, dHidden, weights, grads, null)).toThrow(/released/);
    const foreign = cpu.lstmForward(shape, x, weights, true, hidden);
    expect(() => wasm.lstmBackward(shape, foreign, dHidden, weights, grads, dX)).toThrow(/not made by this backend/);
    cpu.release(foreign);
    const fromReference = createReferenceBackend('float32').lstmForward(shape, x, weights, true, hidden);
    expect(() => wasm.lstmBackward(shape, fromReference, dHidden, weights, grads, dX)).toThrow(/not made by this backend/);
  });

  it('names the wrong length and the bad token', () => {
    const shape = { B: 2, T: 3, I: 2, H: 2 };
    const weights = { kernel: randomArray(1, 16), recurrentKernel: randomArray(2, 16), bias: randomArray(3, 8) };
    expect(() => wasm.lstmForward(shape, new Float32Array(11), weights, true, new Float32Array(12))).toThrow(
      /lstm input \[B,T,I\]: expected 12 values, got 11/,
    );
    expect(() => wasm.lstmForward(shape, new Float32Array(12), weights, true, new Float32Array(13))).toThrow(
      /lstm hidden \[B,T,H\]: expected 12 values, got 13/,
    );
    expect(() => wasm.embeddingForward(Int32Array.from([0, 5]), new Float32Array(10), 2, new Float32Array(4))).toThrow(
      /token 5 at position 1 is outside \[0, 5\)/,
    );
  });

  it('refuses calls after dispose', async () => {
    const disposable = await createTfjsBackend('wasm');
    disposable.dispose();
    disposable.dispose();
    expect(() =>
      disposable.denseForward({ B: 1, H: 1, K: 1 }, new Float32Array(1), new Float32Array(1), new Float32Array(1), new Float32Array(1)),
    ).toThrow(/disposed/);
  });
});
