// Reading an export directory back: model.json and its weight files (as tf.loadLayersModel
// takes them from a load handler), and lstm-runner.json, each through a zod schema, so that a
// hand-edited or foreign file fails with the file and the field named.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  booleanField,
  finiteNumber,
  firstIssue,
  headWidth,
  issueLine,
  mapping,
  modelSpecSchema,
  nonEmptyString,
  nonNegativeInteger,
  parameterLayout,
  positiveInteger,
  tagged,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import * as z from 'zod';
import { ExportFormatError } from './errors/export-format-error';
import { EXPORT_FILES, RUNNER_FILE_VERSION, type WeightSpec } from './tfjs-export';
import type { ModelEncoding, TrainedModel } from './trained-model';

/** What a tf.io load handler returns (tf.io.ModelArtifacts): pass `{ load: () => readLayersArtifacts(dir) }` to tf.loadLayersModel. */
export interface LayersArtifacts {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: Record<string, unknown>;
  weightSpecs: WeightSpec[];
  weightData: ArrayBuffer;
}

// model.json is tfjs's format, which other tools write too: fields of theirs are let through.
const modelJsonSchema = z.looseObject({
  format: z.literal('layers-model', { error: (issue) => `must be 'layers-model', got ${JSON.stringify(issue.input)}` }),
  generatedBy: z.string().optional(),
  modelTopology: z.record(z.string(), z.unknown(), { error: 'must be a JSON object' }),
  weightsManifest: z.array(
    z.looseObject({
      paths: z.array(nonEmptyString()),
      weights: z.array(z.looseObject({ name: z.string(), shape: z.array(nonNegativeInteger()), dtype: z.string() })),
    }),
    { error: 'must be an array of {paths, weights}' },
  ),
});

const normalizationSchema = tagged('method', [
  mapping({ method: z.literal('zscore'), mean: z.array(finiteNumber()), std: z.array(finiteNumber()) }),
  mapping({ method: z.literal('minmax'), min: z.array(finiteNumber()), max: z.array(finiteNumber()) }),
]);

/** lstm-runner.json: the window and, for text, the vocabulary or, for CSV, columns and normalization. */
const runnerFileSchema = mapping({
  version: z.literal(RUNNER_FILE_VERSION, {
    error: (issue) => `${JSON.stringify(issue.input)} is not supported (this version reads ${RUNNER_FILE_VERSION})`,
  }),
  lookBack: positiveInteger(),
  horizon: positiveInteger(),
  model: modelSpecSchema,
  name: nonEmptyString().default('model'),
  origin: nonEmptyString().optional(),
  vocabulary: z.array(z.string()).optional(),
  lowercase: booleanField().optional(),
  unknownId: nonNegativeInteger().optional(),
  features: z.array(z.string()).optional(),
  targets: z.array(z.string()).optional(),
  normalization: mapping({ features: normalizationSchema, targets: normalizationSchema }).optional(),
})
  .superRefine((file, context) => {
    const fail = (path: string, message: string): void => context.addIssue({ code: 'custom', path: [path], message });
    const { model } = file;
    if (file.vocabulary !== undefined) {
      const size = file.vocabulary.length;
      if (file.lowercase === undefined) fail('lowercase', 'must be true or false');
      if (file.unknownId !== size) fail('unknownId', `must be the vocabulary's length, ${size}`);
      if (model.input.kind !== 'tokens' || model.input.vocabulary !== size + 1)
        fail('model', `input must be tokens over ${size + 1} ids (the vocabulary and the unknown id)`);
      return;
    }
    const { features, targets, normalization } = file;
    if (features === undefined) return fail('features', 'is required (or a vocabulary, for a text model)');
    if (targets === undefined) return fail('targets', 'is required');
    if (normalization === undefined) return fail('normalization', 'is required');
    if (model.input.kind !== 'features' || model.input.size !== features.length)
      fail('model', `input must be ${features.length} features, one per column of features`);
    if (headWidth(model) !== targets.length) fail('model', `head must have ${targets.length} outputs, one per column of targets`);
    for (const [part, columns] of [
      ['features', features.length],
      ['targets', targets.length],
    ] as const) {
      const statistics = Object.entries(normalization[part]).filter(([key]) => key !== 'method');
      for (const [key, values] of statistics) {
        if ((values as number[]).length !== columns) fail('normalization', `${part}.${key} must be ${columns} finite numbers`);
      }
    }
  })
  .transform((file): Omit<TrainedModel, 'weights'> => {
    const encoding: ModelEncoding =
      file.vocabulary !== undefined
        ? { kind: 'text', vocabulary: file.vocabulary, lowercase: file.lowercase ?? false, unknownId: file.vocabulary.length }
        : { kind: 'csv', features: file.features ?? [], targets: file.targets ?? [], normalization: file.normalization! };
    return {
      name: file.name,
      origin: file.origin ?? file.name,
      model: file.model,
      encoding,
      window: { lookBack: file.lookBack, horizon: file.horizon },
    };
  });

function parseFile<S extends z.ZodType>(value: unknown, schema: S, file: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ExportFormatError(file, issueLine(firstIssue(parsed.error), '(root)').text);
  return parsed.data;
}

/** model.json and the weight files it names, as tf.loadLayersModel takes them from a load handler. */
export async function readLayersArtifacts(dir: string): Promise<LayersArtifacts> {
  const file = join(dir, EXPORT_FILES.model);
  const json = parseFile(await readJsonFile(file), modelJsonSchema, file);
  const weightSpecs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const weight of group.weights) weightSpecs.push({ name: weight.name, shape: weight.shape, dtype: weight.dtype as 'float32' });
    for (const path of group.paths) parts.push(await readExportFile(join(dir, path)));
  }
  const weightData = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    weightData.set(part, offset);
    offset += part.byteLength;
  }
  return {
    format: 'layers-model',
    generatedBy: json.generatedBy ?? '',
    convertedBy: null,
    modelTopology: json.modelTopology,
    weightSpecs,
    weightData: weightData.buffer,
  };
}

/** An export directory as a TrainedModel: lstm-runner.json, and weights checked against the model's layout. */
export async function loadExportedModel(dir: string): Promise<TrainedModel> {
  const runnerFile = join(dir, EXPORT_FILES.runner);
  const runner = parseFile(await readJsonFile(runnerFile), runnerFileSchema, runnerFile);
  const artifacts = await readLayersArtifacts(dir);
  return { ...runner, weights: flatWeights(runner.model, artifacts, join(dir, EXPORT_FILES.model)) };
}

// The weights as one flat buffer, when the manifest lists exactly the layout's blocks in order.
function flatWeights(model: ModelSpec, artifacts: LayersArtifacts, file: string): Float32Array {
  const layout = parameterLayout(model);
  const describe = (specs: readonly { name: string; shape: readonly number[] }[]): string =>
    specs.map((s) => `${s.name} [${String(s.shape)}]`).join(', ');
  const matches =
    artifacts.weightSpecs.length === layout.blocks.length &&
    layout.blocks.every((block, index) => {
      const spec = artifacts.weightSpecs[index]!;
      return (
        spec.name === block.name &&
        spec.dtype === 'float32' &&
        spec.shape.length === block.shape.length &&
        spec.shape.every((d, i) => d === block.shape[i])
      );
    });
  if (!matches)
    throw new ExportFormatError(
      file,
      `the weights manifest lists ${describe(artifacts.weightSpecs)}; the model needs ${describe(layout.blocks)} (float32)`,
    );
  if (artifacts.weightData.byteLength !== layout.size * 4) {
    throw new ExportFormatError(file, `the weight files hold ${artifacts.weightData.byteLength} bytes, the model needs ${layout.size * 4}`);
  }
  return new Float32Array(artifacts.weightData.slice(0));
}

async function readExportFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ExportFormatError(
      path,
      code === 'ENOENT' ? 'not found (not a directory written by lstm export?)' : `cannot be read (${code ?? String(error)})`,
    );
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
