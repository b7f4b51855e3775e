import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ComputeBackend } from '../backend';
import { initializeParameters } from '../init';
import { lossAndGradient, type Batch } from '../model';
import type { ModelSpec } from '../model-spec';
import { createTfjsBackend, type TfjsBackendName } from './tfjs-backend';
import { describeBackendContract, randomArray } from '../../../../test-support/backend-conformance';

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
});

for (const name of ['wasm', 'cpu'] as TfjsBackendName[]) describeBackendContract(`tfjs ${name} backend`, () => createTfjsBackend(name));
