// A tiny model through the ComputeBackend interface (embedding -> 2 stacked LSTM layers ->
// dense on the last timestep) against tfjs autodiff over a per-step graph of tfjs-core ops
// on the 'cpu' backend (wasm has no gather gradient). The loss is a fixed random linear
// functional of every hidden state of the top layer and of the head output, so every
// timestep's dHidden is exercised, not only the last one's.

// The full @tensorflow/tfjs registers the gradients tf.grads needs (tfjs-core alone has none).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, it } from 'vitest';
import type { ComputeBackend, LstmShape } from '../backend';
import { createTfjsBackend, type TfjsBackendName } from './tfjs-backend';
import { expectClose, randomArray } from './testing';

const B = 3;
const T = 5;
const V = 6;
const E = 3;
const H1 = 4;
const H2 = 5;
const K = 2;
const tokens = Int32Array.from({ length: B * T }, (_, n) => (n * 7 + 3) % V);
const params = {
  table: randomArray(1, V * E, 0.5),
  kernel1: randomArray(2, E * 4 * H1, 0.5),
  recurrent1: randomArray(3, H1 * 4 * H1, 0.5),
  bias1: randomArray(4, 4 * H1, 0.5),
  kernel2: randomArray(5, H1 * 4 * H2, 0.5),
  recurrent2: randomArray(6, H2 * 4 * H2, 0.5),
  bias2: randomArray(7, 4 * H2, 0.5),
  denseKernel: randomArray(8, H2 * K, 0.5),
  denseBias: randomArray(9, K, 0.5),
};
type ParameterName = keyof typeof params;
const names = Object.keys(params) as ParameterName[];
/** d(loss)/d(hidden of the top layer) [B,T,H2] and d(loss)/d(head output) [B,K]. */
const hiddenWeights = randomArray(10, B * T * H2);
const outputWeights = randomArray(11, B * K);

// hidden [B,T,H] of one LSTM layer, one timestep at a time (the formulation the backend avoids).
function perStepLstm(x: tf.Tensor3D, kernel: tf.Tensor2D, recurrent: tf.Tensor2D, bias: tf.Tensor1D, H: number): tf.Tensor3D {
  let h: tf.Tensor2D = tf.zeros([B, H]);
  let c: tf.Tensor2D = tf.zeros([B, H]);
  const steps: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const xt = tf.squeeze(tf.slice(x, [0, t, 0], [B, 1, x.shape[2]]), [1]) as tf.Tensor2D;
    const z = tf.add(tf.add(tf.matMul(xt, kernel), tf.matMul(h, recurrent)), bias);
    const [zi, zf, zc, zo] = tf.split(z, 4, 1) as tf.Tensor2D[];
    c = tf.add(tf.mul(tf.sigmoid(zf!), c), tf.mul(tf.sigmoid(zi!), tf.tanh(zc!)));
    h = tf.mul(tf.sigmoid(zo!), tf.tanh(c));
    steps.push(h);
  }
  return tf.stack(steps, 1) as tf.Tensor3D;
}

function autodiffGradients(): Record<ParameterName, Float32Array> {
  return tf.tidy(() => {
    const inputs = names.map((name) => tf.tensor(params[name]));
    const loss = (...p: tf.Tensor[]): tf.Scalar => {
      const [table, k1, r1, b1, k2, r2, b2, dk, db] = p;
      const x = tf.reshape(tf.gather(tf.reshape(table!, [V, E]), tf.tensor1d(tokens, 'int32')), [B, T, E]) as tf.Tensor3D;
      const hidden1 = perStepLstm(x, tf.reshape(k1!, [E, 4 * H1]), tf.reshape(r1!, [H1, 4 * H1]), b1 as tf.Tensor1D, H1);
      const hidden2 = perStepLstm(hidden1, tf.reshape(k2!, [H1, 4 * H2]), tf.reshape(r2!, [H2, 4 * H2]), b2 as tf.Tensor1D, H2);
      const last = tf.squeeze(tf.slice(hidden2, [0, T - 1, 0], [B, 1, H2]), [1]) as tf.Tensor2D;
      const y = tf.add(tf.matMul(last, tf.reshape(dk!, [H2, K])), db!);
      return tf.add(tf.sum(tf.mul(hidden2, tf.tensor3d(hiddenWeights, [B, T, H2]))), tf.sum(tf.mul(y, tf.tensor2d(outputWeights, [B, K]))));
    };
    const grads = tf.grads(loss)(inputs);
    return Object.fromEntries(names.map((name, n) => [name, grads[n]!.dataSync() as Float32Array])) as Record<ParameterName, Float32Array>;
  });
}

function backendGradients(backend: ComputeBackend<Float32Array>): Record<ParameterName, Float32Array> {
  const grads = Object.fromEntries(names.map((name) => [name, new Float32Array(params[name].length)])) as Record<
    ParameterName,
    Float32Array
  >;
  const shape1: LstmShape = { B, T, I: E, H: H1 };
  const shape2: LstmShape = { B, T, I: H1, H: H2 };
  const weights1 = { kernel: params.kernel1, recurrentKernel: params.recurrent1, bias: params.bias1 };
  const weights2 = { kernel: params.kernel2, recurrentKernel: params.recurrent2, bias: params.bias2 };
  const x = new Float32Array(B * T * E);
  backend.embeddingForward(tokens, params.table, E, x);
  const hidden1 = new Float32Array(B * T * H1);
  const cache1 = backend.lstmForward(shape1, x, weights1, true, hidden1);
  const hidden2 = new Float32Array(B * T * H2);
  const cache2 = backend.lstmForward(shape2, hidden1, weights2, true, hidden2);
  const last = new Float32Array(B * H2);
  for (let b = 0; b < B; b++) last.set(hidden2.subarray((b * T + T - 1) * H2, (b * T + T) * H2), b * H2);
  backend.denseForward({ B, H: H2, K }, last, params.denseKernel, params.denseBias, new Float32Array(B * K));
  const dLast = new Float32Array(B * H2);
  backend.denseBackward({ B, H: H2, K }, last, outputWeights, params.denseKernel, grads.denseKernel, grads.denseBias, dLast);
  const dHidden2 = Float32Array.from(hiddenWeights);
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H2; j++) dHidden2[(b * T + T - 1) * H2 + j]! += dLast[b * H2 + j]!;
  }
  const grads2 = { dKernel: grads.kernel2, dRecurrentKernel: grads.recurrent2, dBias: grads.bias2 };
  const dHidden1 = new Float32Array(B * T * H1);
  backend.lstmBackward(shape2, cache2, dHidden2, weights2, grads2, dHidden1);
  const grads1 = { dKernel: grads.kernel1, dRecurrentKernel: grads.recurrent1, dBias: grads.bias1 };
  const dX = new Float32Array(B * T * E);
  backend.lstmBackward(shape1, cache1, dHidden1, weights1, grads1, dX);
  backend.embeddingBackward(tokens, dX, grads.table, E);
  return grads;
}

describe('a tiny model through the backend against tfjs autodiff', () => {
  let expected: Record<ParameterName, Float32Array>;
  beforeAll(async () => {
    await createTfjsBackend('cpu');
    await tf.setBackend('cpu');
    expected = autodiffGradients();
  });

  it.each(['wasm', 'cpu'] as TfjsBackendName[])('%s: every parameter block to 1e-4', async (name) => {
    const backend = await createTfjsBackend(name);
    const actual = backendGradients(backend);
    for (const parameter of names) expectClose(actual[parameter], expected[parameter], 1e-4, parameter);
  });
});
