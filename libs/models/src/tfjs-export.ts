// Export to the TensorFlow.js layers format: model.json (topology + weights manifest) and
// weights.bin, loadable by tf.loadLayersModel, plus lstm-runner.json with what inference
// needs besides the network (window, columns and normalization, or vocabulary). The flat
// parameter layout already has tfjs's weight names, shapes and order, so weights.bin is a
// copy of it. An export directory loads back as a TrainedModel without the store
// (exported-model-reader.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { headWidth, parameterLayout, type ModelSpec } from '@lstm-runner/lstm-core';
import type { TrainedModel } from './trained-model';

export const EXPORT_FILES = { model: 'model.json', weights: 'weights.bin', runner: 'lstm-runner.json' } as const;

/** The version of lstm-runner.json this code writes and reads. */
export const RUNNER_FILE_VERSION = 1;
const TFJS_LAYERS_VERSION = '4.22.0';

/** One entry of a weights manifest (tf.io.WeightsManifestEntry). */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

/** model.json of the TensorFlow.js layers format. */
interface LayersModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: Record<string, unknown>;
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

/**
 * The Keras Sequential topology of a model: [Embedding] -> LSTM x n (all but the last return
 * sequences; the last one too with output 'sequence', where the Dense layer then applies to
 * every timestep: [B,T,K]) -> Dense (softmax for a classification head, linear for regression). Layer names
 * are the prefixes of the parameter layout's block names, which is how tfjs matches weights.
 */
function layersTopology(spec: ModelSpec, lookBack: number): Record<string, unknown> {
  const common = { trainable: true, dtype: 'float32' };
  const layers: Record<string, unknown>[] = [];
  if (spec.input.kind === 'tokens') {
    // Any number of timesteps: generation feeds contexts shorter than lookBack at first.
    const { vocabulary, embedding } = spec.input;
    layers.push({
      class_name: 'Embedding',
      config: {
        name: 'embedding',
        ...common,
        batch_input_shape: [null, null],
        input_dim: vocabulary,
        output_dim: embedding,
        mask_zero: false,
      },
    });
  }
  spec.layers.forEach((units, index) => {
    const inputShape = index === 0 && spec.input.kind === 'features' ? { batch_input_shape: [null, lookBack, spec.input.size] } : {};
    layers.push({
      class_name: 'LSTM',
      config: {
        name: `lstm_${index + 1}`,
        ...common,
        ...inputShape,
        units,
        activation: 'tanh',
        // tfjs-layers defaults to hardSigmoid; our cell (and Keras 3) use the sigmoid.
        recurrent_activation: 'sigmoid',
        use_bias: true,
        return_sequences: index < spec.layers.length - 1 || spec.output === 'sequence',
        return_state: false,
        go_backwards: false,
        stateful: false,
        unroll: false,
        dropout: 0,
        recurrent_dropout: 0,
      },
    });
  });
  const activation = spec.head.kind === 'classification' ? 'softmax' : 'linear';
  layers.push({ class_name: 'Dense', config: { name: 'dense', ...common, units: headWidth(spec), activation, use_bias: true } });
  return {
    class_name: 'Sequential',
    config: { name: 'lstm_runner', layers },
    keras_version: `tfjs-layers ${TFJS_LAYERS_VERSION}`,
    backend: 'tensor_flow.js',
  };
}

/** The weights manifest entries of a model: the parameter layout's blocks, in order. */
function weightSpecsOf(spec: ModelSpec): WeightSpec[] {
  return parameterLayout(spec).blocks.map((block) => ({ name: block.name, shape: [...block.shape], dtype: 'float32' }));
}

function layersModelJson(spec: ModelSpec, lookBack: number): LayersModelJson {
  return {
    format: 'layers-model',
    generatedBy: 'lstm-runner',
    convertedBy: null,
    modelTopology: layersTopology(spec, lookBack),
    weightsManifest: [{ paths: [EXPORT_FILES.weights], weights: weightSpecsOf(spec) }],
  };
}

/** lstm-runner.json: the keys of the documented shape first, then what loading back needs. */
function runnerFileOf(trained: TrainedModel): Record<string, unknown> {
  const { encoding } = trained;
  const inputs =
    encoding.kind === 'csv'
      ? { features: encoding.features, targets: encoding.targets, normalization: encoding.normalization }
      : { vocabulary: encoding.vocabulary, lowercase: encoding.lowercase, unknownId: encoding.unknownId };
  return {
    lookBack: trained.window.lookBack,
    ...inputs,
    horizon: trained.window.horizon,
    model: trained.model,
    name: trained.name,
    origin: trained.origin,
    version: RUNNER_FILE_VERSION,
  };
}

/** Writes DIR/model.json, DIR/weights.bin and DIR/lstm-runner.json (last); returns their paths. */
export async function exportModel(trained: TrainedModel, dir: string): Promise<string[]> {
  const expected = parameterLayout(trained.model).size;
  if (trained.weights.length !== expected)
    throw new RangeError(`${trained.origin}: ${trained.weights.length} weights, the model has ${expected}`);
  await mkdir(dir, { recursive: true });
  const paths = [join(dir, EXPORT_FILES.weights), join(dir, EXPORT_FILES.model), join(dir, EXPORT_FILES.runner)];
  // Little-endian float32, as tfjs reads weights on every platform it runs on.
  await writeFile(paths[0]!, new Uint8Array(trained.weights.buffer, trained.weights.byteOffset, trained.weights.byteLength));
  await writeFile(paths[1]!, `${JSON.stringify(layersModelJson(trained.model, trained.window.lookBack), null, 2)}\n`);
  // Written last: a directory with lstm-runner.json is a complete export.
  await writeFile(paths[2]!, `${JSON.stringify(runnerFileOf(trained), null, 2)}\n`);
  return paths;
}
