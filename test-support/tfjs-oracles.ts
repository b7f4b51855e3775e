// Checks against TensorFlow.js on its 'cpu' backend, for any float32 ComputeBackend: gradients
// against tfjs autodiff over a per-step graph of tfjs-core ops (the construction our backends
// avoid for speed, used here as an independent oracle), and the forward pass against a
// tfjs-layers model holding the same weights.

// The full @tensorflow/tfjs registers the gradients tf.grads needs (tfjs-core alone has none)
// and the layers API.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  blockView,
  createRng,
  createTfjsBackend,
  initializeParameters,
  lossAndGradient,
  parameterLayout,
  predict,
  type Batch,
  type ComputeBackend,
  type LstmShape,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import { expectClose, randomArray } from './backend-conformance';

/** Makes tfjs compute on its 'cpu' backend (wasm has no gather gradient). */
async function useTfjsCpu(): Promise<void> {
  await createTfjsBackend('cpu');
  await tf.setBackend('cpu');
}

// A tiny model through the ComputeBackend interface (embedding -> 2 stacked LSTM layers ->
// dense on the last timestep). The loss is a fixed random linear functional of every hidden
// state of the top layer and of the head output, so every timestep's dHidden is exercised,
// not only the last one's.
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

/** Registers a suite: the tiny model's gradient through each backend against tfjs autodiff, every block to 1e-4. */
export function describeTinyModelAgainstAutodiff(backends: Readonly<Record<string, () => Promise<ComputeBackend<Float32Array>>>>): void {
  describe('a tiny model through the backend against tfjs autodiff', () => {
    let expected: Record<ParameterName, Float32Array>;
    beforeAll(async () => {
      await useTfjsCpu();
      expected = autodiffGradients();
    });

    it.each(Object.keys(backends))('%s: every parameter block to 1e-4', async (name) => {
      const backend = await backends[name]!();
      const actual = backendGradients(backend);
      for (const parameter of names) expectClose(actual[parameter], expected[parameter], 1e-4, parameter);
    });
  });
}

// Whole models, several layer stacks and both heads.
const cases: [string, ModelSpec][] = [
  ['features, 1 layer, regression', { input: { kind: 'features', size: 4 }, layers: [8], head: { kind: 'regression', outputs: 2 } }],
  ['features, 3 layers, regression', { input: { kind: 'features', size: 4 }, layers: [6, 8, 5], head: { kind: 'regression', outputs: 3 } }],
  [
    'tokens, 1 layer, classification',
    { input: { kind: 'tokens', vocabulary: 9, embedding: 5 }, layers: [8], head: { kind: 'classification', classes: 9 } },
  ],
  [
    'tokens, 3 layers, classification',
    { input: { kind: 'tokens', vocabulary: 9, embedding: 5 }, layers: [6, 7, 8], head: { kind: 'classification', classes: 9 } },
  ],
];

function testCase(spec: ModelSpec, seed: number): { params: Float32Array; batch: Batch<Float32Array> } {
  const rng = createRng(seed);
  const params = initializeParameters(spec, seed).map((value) => 1.5 * value + 0.1 * rng.nextNormal());
  const B = 5;
  const T = 7;
  const inputs =
    spec.input.kind === 'features'
      ? { features: Float32Array.from({ length: B * T * spec.input.size }, () => rng.nextNormal()) }
      : { tokens: Int32Array.from({ length: B * T }, () => rng.nextInt(spec.input.kind === 'tokens' ? spec.input.vocabulary : 1)) };
  const labels =
    spec.head.kind === 'regression'
      ? { targets: Float32Array.from({ length: B * spec.head.outputs }, () => rng.nextNormal()) }
      : { classes: Int32Array.from({ length: B }, () => rng.nextInt(spec.head.kind === 'classification' ? spec.head.classes : 1)) };
  return { params, batch: { B, T, ...inputs, ...labels } };
}

// The summed loss of the batch, built from tfjs-core ops one timestep at a time.
function tfjsLoss(spec: ModelSpec, blocks: tf.Tensor[], batch: Batch<Float32Array>): tf.Scalar {
  const { B, T } = batch;
  const next = (): tf.Tensor => {
    const block = blocks.shift();
    if (!block) throw new Error('ran out of parameter blocks');
    return block;
  };
  let x: tf.Tensor3D =
    spec.input.kind === 'tokens'
      ? tf.gather(next(), tf.tensor1d(batch.tokens!, 'int32')).reshape([B, T, spec.input.embedding])
      : tf.tensor3d(batch.features!, [B, T, spec.input.size]);
  let last: tf.Tensor2D | null = null;
  for (const H of spec.layers) {
    const [kernel, recurrentKernel, bias] = [next(), next(), next()] as tf.Tensor2D[];
    let h: tf.Tensor2D = tf.zeros([B, H]);
    let c: tf.Tensor2D = tf.zeros([B, H]);
    const outputs: tf.Tensor2D[] = [];
    for (let t = 0; t < T; t++) {
      const xt = x.slice([0, t, 0], [B, 1, x.shape[2]]).reshape([B, x.shape[2]]) as tf.Tensor2D;
      const z = xt.matMul(kernel!).add(h.matMul(recurrentKernel!)).add(bias!);
      const [zi, zf, zg, zo] = tf.split(z, 4, 1);
      c = tf
        .sigmoid(zf!)
        .mul(c)
        .add(tf.sigmoid(zi!).mul(tf.tanh(zg!)));
      h = tf.sigmoid(zo!).mul(tf.tanh(c));
      outputs.push(h);
    }
    x = tf.stack(outputs, 1) as tf.Tensor3D;
    last = h;
  }
  const logits = last!.matMul(next() as tf.Tensor2D).add(next());
  if (spec.head.kind === 'regression') {
    return tf.sum(tf.square(logits.sub(tf.tensor2d(batch.targets!, [B, spec.head.outputs])))).div(spec.head.outputs);
  }
  const oneHot = tf.oneHot(tf.tensor1d(batch.classes!, 'int32'), spec.head.classes);
  return tf.sum(tf.logSumExp(logits, 1).sub(tf.sum(logits.mul(oneHot), 1)));
}

/** Registers a suite: a whole model's loss and every parameter block's gradient on the backend against tfjs autodiff. */
export function describeModelAgainstAutodiff(label: string, load: () => Promise<ComputeBackend<Float32Array>>): void {
  describe(`${label} against tfjs autodiff`, () => {
    let backend: ComputeBackend<Float32Array>;
    beforeAll(async () => {
      backend = await load();
      await useTfjsCpu();
    });

    it.each(cases)('%s: every parameter block', (_, spec) => {
      const { params, batch } = testCase(spec, 3);
      const grads = new Float32Array(params.length);
      const { loss } = lossAndGradient(backend, spec, params, batch, grads);

      const layout = parameterLayout(spec);
      const tensors = layout.blocks.map((block) => tf.tensor(blockView(params, block), [...block.shape]));
      const { value, grads: tfGrads } = tf.tidy(() => {
        const result = tf.grads((...blocks: tf.Tensor[]) => tfjsLoss(spec, blocks, batch))(tensors);
        return { value: tfjsLoss(spec, tensors.slice(), batch), grads: result };
      });
      expect(Math.abs(loss - value.dataSync()[0]!) / Math.abs(loss)).toBeLessThan(1e-5);
      layout.blocks.forEach((block, n) => {
        const expected = tfGrads[n]!.dataSync();
        const actual = blockView(grads, block);
        const scale = Math.max(...expected.map(Math.abs));
        const error = Math.max(...actual.map((g, k) => Math.abs(g - expected[k]!)));
        expect(scale, block.name).toBeGreaterThan(1e-3);
        expect(error / scale, block.name).toBeLessThan(1e-4);
      });
      tf.dispose([value, ...tfGrads, ...tensors]);
    });
  });
}

/** Registers a suite: predict on the backend against a tfjs-layers model holding the same weights, to 1e-5. */
export function describeLayersForwardParity(label: string, load: () => Promise<ComputeBackend<Float32Array>>): void {
  describe(`${label}: forward parity with a tfjs-layers model holding the same weights`, () => {
    let backend: ComputeBackend<Float32Array>;
    beforeAll(async () => {
      backend = await load();
      await useTfjsCpu();
    });

    it.each(cases)('%s', (_, spec) => {
      const { params, batch } = testCase(spec, 5);
      const { B, T } = batch;
      const model = tf.sequential();
      if (spec.input.kind === 'tokens')
        model.add(tf.layers.embedding({ inputDim: spec.input.vocabulary, outputDim: spec.input.embedding, inputLength: T }));
      spec.layers.forEach((units, n) => {
        model.add(
          tf.layers.lstm({
            units,
            recurrentActivation: 'sigmoid',
            returnSequences: n < spec.layers.length - 1,
            ...(n === 0 && spec.input.kind === 'features' ? { inputShape: [T, spec.input.size] } : {}),
          }),
        );
      });
      const K = spec.head.kind === 'regression' ? spec.head.outputs : spec.head.classes;
      model.add(tf.layers.dense({ units: K, activation: spec.head.kind === 'regression' ? 'linear' : 'softmax' }));
      const layout = parameterLayout(spec);
      expect(model.getWeights().map((weight) => weight.shape)).toEqual(layout.blocks.map((block) => block.shape));
      model.setWeights(layout.blocks.map((block) => tf.tensor(blockView(params, block), [...block.shape])));

      const input =
        spec.input.kind === 'tokens' ? tf.tensor2d(batch.tokens!, [B, T], 'int32') : tf.tensor3d(batch.features!, [B, T, spec.input.size]);
      const expected = (model.predict(input) as tf.Tensor).dataSync();
      const actual = predict(backend, spec, params, batch);
      expect(actual).toHaveLength(B * K);
      actual.forEach((value, k) => expect(Math.abs(value - expected[k]!)).toBeLessThan(1e-5));
      model.dispose();
      input.dispose();
    });
  });
}
