import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReferenceBackend, createRng, initializeParameters, predict, type ModelSpec } from '@lstm-runner/lstm-core';
import { ExportFormatError } from './errors/export-format-error';
import { loadExportedModel, readLayersArtifacts } from './exported-model-reader';
import { EXPORT_FILES, exportModel } from './tfjs-export';
import type { TrainedModel } from './trained-model';

const reference = createReferenceBackend('float32');

const regressionModel: ModelSpec = { input: { kind: 'features', size: 3 }, layers: [5, 4], head: { kind: 'regression', outputs: 2 } };
const regression: TrainedModel = {
  name: 'weather',
  origin: 'job weather-1 step 10',
  model: regressionModel,
  // Scaled up so that the gates saturate differently and a wrong activation would show.
  weights: initializeParameters(regressionModel, 3).map((w) => 2 * w),
  encoding: {
    kind: 'csv',
    features: ['humidity', 'temperature', 'day_of_week'],
    targets: ['temperature', 'humidity'],
    normalization: {
      features: { method: 'zscore', mean: [40, 20, 3], std: [5, 4, 2] },
      targets: { method: 'zscore', mean: [20, 40], std: [4, 5] },
    },
  },
  window: { lookBack: 6, horizon: 1 },
};

const vocabulary = ['\n', ' ', 'a', 'e', 'h', 't'];
const textModel: ModelSpec = {
  input: { kind: 'tokens', vocabulary: 7, embedding: 4 },
  layers: [8],
  head: { kind: 'classification', classes: 7 },
};
const text: TrainedModel = {
  name: 'chars',
  origin: 'job chars-1 step 3',
  model: textModel,
  weights: initializeParameters(textModel, 5).map((w) => 3 * w),
  encoding: { kind: 'text', vocabulary, lowercase: true, unknownId: 6 },
  window: { lookBack: 10, horizon: 1 },
};

/** tf.loadLayersModel on an export directory, through a load handler that reads its files. */
function loadLayers(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel({ load: () => readLayersArtifacts(dir) });
}

function expectRelativelyClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `element ${i}: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(
      1e-4 * Math.abs(expected[i]!) + 1e-6,
    );
  }
}

let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'lstm-export-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('export to the TensorFlow.js layers format', () => {
  it('writes a regression model that tf.loadLayersModel runs to the same outputs as lstm-core', async () => {
    const out = join(dir, 'regression');
    expect(await exportModel(regression, out)).toEqual(
      [EXPORT_FILES.weights, EXPORT_FILES.model, EXPORT_FILES.runner].map((file) => join(out, file)),
    );
    const layers = await loadLayers(out);
    expect(layers.layers.map((layer) => layer.getClassName())).toEqual(['LSTM', 'LSTM', 'Dense']);
    expect(layers.inputs[0]!.shape).toEqual([null, 6, 3]);
    expect(layers.countParams()).toBe(regression.weights.length);

    const B = 3;
    const T = regression.window.lookBack;
    const rng = createRng(1);
    const features = Float32Array.from({ length: B * T * 3 }, () => rng.nextNormal());
    const expected = predict(reference, regressionModel, regression.weights, { B, T, features });
    const output = layers.predict(tf.tensor3d(features, [B, T, 3])) as tf.Tensor;
    expectRelativelyClose(await output.data(), expected);
  });

  it('writes a char-LM (embedding, softmax) that tfjs runs on contexts of any length', async () => {
    const out = join(dir, 'text');
    await exportModel(text, out);
    const layers = await loadLayers(out);
    expect(layers.layers.map((layer) => layer.getClassName())).toEqual(['Embedding', 'LSTM', 'Dense']);
    for (const T of [1, 4, 10]) {
      const tokens = Int32Array.from({ length: 2 * T }, (_, k) => (k * 5 + 1) % 7);
      const expected = predict(reference, textModel, text.weights, { B: 2, T, tokens });
      const output = layers.predict(tf.tensor2d(tokens, [2, T], 'int32')) as tf.Tensor;
      expectRelativelyClose(await output.data(), expected);
    }
  });

  it("writes a char-LM with output 'sequence' whose last LSTM returns sequences: tfjs predicts after every timestep", async () => {
    const sequenceModel: ModelSpec = { ...textModel, output: 'sequence' };
    const sequence: TrainedModel = { ...text, model: sequenceModel };
    const out = join(dir, 'text-sequence');
    await exportModel(sequence, out);
    const layers = await loadLayers(out);
    for (const T of [1, 5]) {
      const tokens = Int32Array.from({ length: 2 * T }, (_, k) => (k * 3 + 2) % 7);
      const expected = predict(reference, sequenceModel, sequence.weights, { B: 2, T, tokens });
      const output = layers.predict(tf.tensor2d(tokens, [2, T], 'int32')) as tf.Tensor;
      expect(output.shape).toEqual([2, T, 7]);
      expectRelativelyClose(await output.data(), expected);
    }
    expect(await loadExportedModel(out)).toEqual(sequence);
  });

  it('says sigmoid for the recurrent activation, returns sequences from all but the last LSTM, softmax or linear heads', async () => {
    const topologyLayers = async (name: string) => {
      const json = JSON.parse(await readFile(join(dir, name, EXPORT_FILES.model), 'utf8')) as {
        modelTopology: { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
      };
      return json.modelTopology.config.layers;
    };
    const lstms = (await topologyLayers('regression')).filter((layer) => layer.class_name === 'LSTM');
    expect(lstms.map((layer) => layer.config['recurrent_activation'])).toEqual(['sigmoid', 'sigmoid']);
    expect(lstms.map((layer) => layer.config['return_sequences'])).toEqual([true, false]);
    expect((await topologyLayers('regression')).at(-1)!.config['activation']).toBe('linear');
    expect((await topologyLayers('text')).at(-1)!.config['activation']).toBe('softmax');
  });

  it('writes lstm-runner.json in the documented shape', async () => {
    const regressionFile = JSON.parse(await readFile(join(dir, 'regression', EXPORT_FILES.runner), 'utf8')) as Record<string, unknown>;
    expect(regressionFile).toMatchObject({
      lookBack: 6,
      features: ['humidity', 'temperature', 'day_of_week'],
      targets: ['temperature', 'humidity'],
      normalization: {
        features: { method: 'zscore', mean: [40, 20, 3], std: [5, 4, 2] },
        targets: { method: 'zscore', mean: [20, 40], std: [4, 5] },
      },
      horizon: 1,
    });
    const textFile = JSON.parse(await readFile(join(dir, 'text', EXPORT_FILES.runner), 'utf8')) as Record<string, unknown>;
    expect(textFile).toMatchObject({ lookBack: 10, vocabulary, lowercase: true, unknownId: 6 });
    expect(textFile).not.toHaveProperty('features');
  });

  it('loads an export directory back as the same trained model', async () => {
    expect(await loadExportedModel(join(dir, 'regression'))).toEqual(regression);
    expect(await loadExportedModel(join(dir, 'text'))).toEqual(text);
  });

  it('refuses an export whose files do not fit the model, naming the file', async () => {
    const out = join(dir, 'broken');
    await exportModel(regression, out);
    const runnerFile = join(out, EXPORT_FILES.runner);
    const runner = JSON.parse(await readFile(runnerFile, 'utf8')) as { model: { layers: number[] } };
    await writeFile(runnerFile, JSON.stringify({ ...runner, model: { ...runner.model, layers: [5, 5] } }));
    await expect(loadExportedModel(out)).rejects.toThrow(ExportFormatError);
    await expect(loadExportedModel(out)).rejects.toThrow(
      /model\.json: the weights manifest lists .*lstm_2\/kernel \[5,16\].*the model needs .*lstm_2\/kernel \[5,20\]/,
    );

    await writeFile(runnerFile, JSON.stringify({ ...runner, lookBack: 0 }));
    await expect(loadExportedModel(out)).rejects.toThrow(/lstm-runner\.json: lookBack must be a positive integer, got 0/);

    await rm(join(out, EXPORT_FILES.weights));
    await writeFile(runnerFile, JSON.stringify(runner));
    await expect(loadExportedModel(out)).rejects.toThrow(/weights\.bin: not found/);
    await expect(loadExportedModel(join(dir, 'nothing-here'))).rejects.toThrow(/lstm-runner\.json: not found/);
  });
});
