// The reference backend against TensorFlow.js on its 'cpu' backend: gradients against tfjs
// autodiff over a per-step graph of tfjs-core ops (the construction this library avoids for
// speed, used here as an independent oracle), and the forward pass against a tfjs-layers
// model holding the same weights.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { predict } from './inference';
import { initializeParameters } from './init';
import { blockView, parameterLayout } from './layout';
import { lossAndGradient, type Batch } from './model';
import { createReferenceBackend } from './reference';
import { createRng } from './rng';
import type { ModelSpec } from './model-spec';

const float32 = createReferenceBackend('float32');

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

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('reference backend (float32) against tfjs autodiff', () => {
  it.each(cases)('%s: every parameter block', (_, spec) => {
    const { params, batch } = testCase(spec, 3);
    const grads = new Float32Array(params.length);
    const { loss } = lossAndGradient(float32, spec, params, batch, grads);

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

describe('forward parity with a tfjs-layers model holding the same weights', () => {
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
    const actual = predict(float32, spec, params, batch);
    expect(actual).toHaveLength(B * K);
    actual.forEach((value, k) => expect(Math.abs(value - expected[k]!)).toBeLessThan(1e-5));
    model.dispose();
    input.dispose();
  });
});
