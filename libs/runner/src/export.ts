// Export to the TensorFlow.js layers format: model.json (topology + weights manifest) and
// weights.bin, loadable by tf.loadLayersModel, plus lstm-runner.json with what inference
// needs besides the network (window, columns and normalization, or vocabulary). The flat
// parameter layout already has tfjs's weight names, shapes and order, so weights.bin is a
// copy of it. An export directory loads back as a TrainedModel without the store.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { headWidth, parameterLayout, validateModelSpec, type ModelSpec } from '@lstm-runner/lstm-core';
import type { Normalization } from '@lstm-runner/data';
import { ExportFormatError } from './errors/export-format-error';
import type { ModelEncoding, TrainedModel } from './model-ref';

export const EXPORT_FILES = { model: 'model.json', weights: 'weights.bin', runner: 'lstm-runner.json' } as const;

/** The version of lstm-runner.json this code writes and reads. */
const RUNNER_FILE_VERSION = 1;
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

/** What a tf.io load handler returns (tf.io.ModelArtifacts): pass `{ load: () => readLayersArtifacts(dir) }` to tf.loadLayersModel. */
export interface LayersArtifacts {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

/**
 * The Keras Sequential topology of a model: [Embedding] -> LSTM x n (all but the last return
 * sequences) -> Dense (softmax for a classification head, linear for regression). Layer names
 * are the prefixes of the parameter layout's block names, which is how tfjs matches weights.
 */
function layersTopology(spec: ModelSpec, lookBack: number): Record<string, unknown> {
  const common = { trainable: true, dtype: 'float32' };
  const layers: Record<string, unknown>[] = [];
  if (spec.input.kind === 'tokens') {
    // Any number of timesteps: generation feeds contexts shorter than lookBack at first.
    const { vocabulary, embedding } = spec.input;
    layers.push({ class_name: 'Embedding', config: { name: 'embedding', ...common, batch_input_shape: [null, null], input_dim: vocabulary, output_dim: embedding, mask_zero: false } });
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
        return_sequences: index < spec.layers.length - 1,
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
  if (trained.weights.length !== expected) throw new RangeError(`${trained.origin}: ${trained.weights.length} weights, the model has ${expected}`);
  await mkdir(dir, { recursive: true });
  const paths = [join(dir, EXPORT_FILES.weights), join(dir, EXPORT_FILES.model), join(dir, EXPORT_FILES.runner)];
  // Little-endian float32, as tfjs reads weights on every platform it runs on.
  await writeFile(paths[0]!, new Uint8Array(trained.weights.buffer, trained.weights.byteOffset, trained.weights.byteLength));
  await writeFile(paths[1]!, `${JSON.stringify(layersModelJson(trained.model, trained.window.lookBack), null, 2)}\n`);
  // Written last: a directory with lstm-runner.json is a complete export.
  await writeFile(paths[2]!, `${JSON.stringify(runnerFileOf(trained), null, 2)}\n`);
  return paths;
}

/** model.json and the weight files it names, as tf.loadLayersModel takes them from a load handler. */
export async function readLayersArtifacts(dir: string): Promise<LayersArtifacts> {
  const file = join(dir, EXPORT_FILES.model);
  const json = expectRecord(await readJsonFile(file), file, 'model.json');
  if (json['format'] !== 'layers-model') throw new ExportFormatError(file, `format ${JSON.stringify(json['format'])} is not 'layers-model'`);
  const manifest = json['weightsManifest'];
  if (!Array.isArray(manifest)) throw new ExportFormatError(file, 'weightsManifest must be an array of {paths, weights}');
  const weightSpecs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new ExportFormatError(file, 'every weightsManifest entry needs paths and weights arrays');
    weightSpecs.push(...(group.weights as WeightSpec[]));
    for (const path of group.paths as unknown[]) {
      if (typeof path !== 'string') throw new ExportFormatError(file, `weight path ${JSON.stringify(path)} is not a string`);
      parts.push(await readExportFile(join(dir, path)));
    }
  }
  const weightData = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    weightData.set(part, offset);
    offset += part.byteLength;
  }
  return {
    format: 'layers-model',
    generatedBy: String(json['generatedBy'] ?? ''),
    convertedBy: null,
    modelTopology: expectRecord(json['modelTopology'], file, 'modelTopology'),
    weightSpecs,
    weightData: weightData.buffer,
  };
}

/** An export directory as a TrainedModel: lstm-runner.json, and weights checked against the model's layout. */
export async function loadExportedModel(dir: string): Promise<TrainedModel> {
  const runnerFile = join(dir, EXPORT_FILES.runner);
  const runner = parseRunnerFile(await readJsonFile(runnerFile), runnerFile);
  const artifacts = await readLayersArtifacts(dir);
  return { ...runner, weights: flatWeights(runner.model, artifacts, join(dir, EXPORT_FILES.model)) };
}

// The weights as one flat buffer, when the manifest lists exactly the layout's blocks in order.
function flatWeights(model: ModelSpec, artifacts: LayersArtifacts, file: string): Float32Array {
  const layout = parameterLayout(model);
  const describe = (specs: readonly { name: string; shape: readonly number[] }[]): string => specs.map((s) => `${s.name} [${String(s.shape)}]`).join(', ');
  const matches =
    artifacts.weightSpecs.length === layout.blocks.length &&
    layout.blocks.every((block, index) => {
      const spec = artifacts.weightSpecs[index]!;
      return spec.name === block.name && spec.dtype === 'float32' && Array.isArray(spec.shape) && spec.shape.length === block.shape.length && spec.shape.every((d, i) => d === block.shape[i]);
    });
  if (!matches) throw new ExportFormatError(file, `the weights manifest lists ${describe(artifacts.weightSpecs)}; the model needs ${describe(layout.blocks)} (float32)`);
  if (artifacts.weightData.byteLength !== layout.size * 4) {
    throw new ExportFormatError(file, `the weight files hold ${artifacts.weightData.byteLength} bytes, the model needs ${layout.size * 4}`);
  }
  return new Float32Array(artifacts.weightData.slice(0));
}

type RunnerFile = Omit<TrainedModel, 'weights'>;

// Checks lstm-runner.json field by field, so a hand-edited file fails with the field's name.
function parseRunnerFile(value: unknown, file: string): RunnerFile {
  const fail = (detail: string): never => {
    throw new ExportFormatError(file, detail);
  };
  const json = expectRecord(value, file, '(root)');
  if (json['version'] !== RUNNER_FILE_VERSION) fail(`version ${JSON.stringify(json['version'])} is not supported (this version reads ${RUNNER_FILE_VERSION})`);
  let model: ModelSpec;
  try {
    model = validateModelSpec(json['model']);
  } catch (error) {
    return fail((error as Error).message);
  }
  const positive = (key: string): number => {
    const n = json[key];
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fail(`${key} must be a positive integer, got ${JSON.stringify(n)}`);
  };
  const strings = (key: string): string[] => {
    const list = json[key];
    return Array.isArray(list) && list.every((s) => typeof s === 'string') ? list : fail(`${key} must be an array of strings`);
  };
  let encoding: ModelEncoding;
  if ('vocabulary' in json) {
    const vocabulary = strings('vocabulary');
    if (typeof json['lowercase'] !== 'boolean') fail('lowercase must be true or false');
    if (json['unknownId'] !== vocabulary.length) fail(`unknownId must be the vocabulary's length, ${vocabulary.length}`);
    if (model.input.kind !== 'tokens' || model.input.vocabulary !== vocabulary.length + 1) fail(`model.input must be tokens over ${vocabulary.length + 1} ids (the vocabulary and the unknown id)`);
    encoding = { kind: 'text', vocabulary, lowercase: json['lowercase'] as boolean, unknownId: vocabulary.length };
  } else {
    const features = strings('features');
    const targets = strings('targets');
    const normalization = expectRecord(json['normalization'], file, 'normalization');
    if (model.input.kind !== 'features' || model.input.size !== features.length) fail(`model.input must be ${features.length} features, one per column of features`);
    if (headWidth(model) !== targets.length) fail(`model.head must have ${targets.length} outputs, one per column of targets`);
    encoding = {
      kind: 'csv',
      features,
      targets,
      normalization: {
        features: parseNormalization(normalization['features'], features.length, file, 'normalization.features'),
        targets: parseNormalization(normalization['targets'], targets.length, file, 'normalization.targets'),
      },
    };
  }
  const name = typeof json['name'] === 'string' ? json['name'] : 'model';
  return {
    name,
    origin: typeof json['origin'] === 'string' ? json['origin'] : name,
    model,
    encoding,
    window: { lookBack: positive('lookBack'), horizon: positive('horizon') },
  };
}

function parseNormalization(value: unknown, columns: number, file: string, path: string): Normalization {
  const json = expectRecord(value, file, path);
  const numbers = (key: string): number[] => {
    const list = json[key];
    if (!Array.isArray(list) || list.length !== columns || !list.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new ExportFormatError(file, `${path}.${key} must be ${columns} finite numbers`);
    }
    return list as number[];
  };
  if (json['method'] === 'zscore') return { method: 'zscore', mean: numbers('mean'), std: numbers('std') };
  if (json['method'] === 'minmax') return { method: 'minmax', min: numbers('min'), max: numbers('max') };
  throw new ExportFormatError(file, `${path}.method must be 'zscore' or 'minmax', got ${JSON.stringify(json['method'])}`);
}

function expectRecord(value: unknown, file: string, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ExportFormatError(file, `${path} must be a JSON object`);
  return value as Record<string, unknown>;
}

async function readExportFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ExportFormatError(path, code === 'ENOENT' ? 'not found (not a directory written by lstm export?)' : `cannot be read (${code ?? String(error)})`);
  }
}

async function readJsonFile(path: string): Promise<unknown> {
  const bytes = await readExportFile(path);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch (error) {
    throw new ExportFormatError(path, `not valid JSON (${(error as Error).message})`);
  }
}
