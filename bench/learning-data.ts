// The files bench/peers/torch_learning.py trains from, written from our own dataset so that
// PyTorch sees exactly the windows our coordinator gives a job's first N steps, in the same
// order, and validates on the same windows ours does:
//   meta.json              format and version, the spec's model and training settings, the
//                          vocabulary size, lookBack and horizon, and the files below
//   tokens.bin             text: the packed dataset's token ids, every row in order, in its
//                          token type (uint8, uint16 or int32), little-endian
//   rows.bin               CSV: the packed dataset's rows, float32 LE [rows, columns], the
//                          stored columns normalized (meta.json's csv: columns, features,
//                          targets and the normalization back to original units)
//   train-starts.bin       int32 LE: the first row of every training window of steps 0..N-1,
//                          step after step, each step's batch in its order
//   train-steps.bin        int32 LE [N + 1]: where each step's windows begin in train-starts
//                          (step s is train-starts[steps[s] .. steps[s + 1]))
//   validation-starts.bin  int32 LE: the first row of every validation window the
//                          coordinator evaluates (its evenly spaced validation shards)
// A window's inputs are rows [start, start + lookBack); the character (CSV: the targets) it
// predicts ('last') is row start + lookBack + horizon - 1; with 'sequence' (horizon 1) row start + t + 1 is
// predicted from the rows up to start + t.
//
//   node --import tsx bench/learning-data.ts SPEC --out DIR --steps N [--seed S] [--source FILE]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import {
  datasetPrefix,
  localFileSource,
  prepareDataset,
  ShardPlan,
  shuffleForNewJob,
  WindowLayout,
  type CsvEncoding,
  type Normalization,
} from '@lstm-runner/data';
import { loadJobSpec } from '@lstm-runner/protocol';
import { DEFAULT_COORDINATOR_OPTIONS } from '@lstm-runner/runner';
import { getVerified, openStore } from '@lstm-runner/storage';

export const LEARNING_DATA_FORMAT = 'lstm-runner/learning-data';
export const LEARNING_DATA_VERSION = 1;

export interface LearningDataOptions {
  /** A job spec (YAML or JSON), text or CSV; its data.source must be a local file. */
  readonly specPath: string;
  readonly outDir: string;
  /** Training steps whose batches are written: steps 0 .. steps-1. */
  readonly steps: number;
  /** The shuffle's seed instead of the spec's training.seed (the run it matches uses the same). */
  readonly seed?: number;
  /** Another local corpus or table for the spec's data.source: the same model and settings on other data. */
  readonly source?: string;
}

export interface LearningDataSummary {
  readonly format: 'text' | 'csv';
  readonly datasetId: string;
  readonly rows: number;
  /** Text: the model's classes; CSV: null. */
  readonly vocabularySize: number | null;
  readonly steps: number;
  readonly trainWindows: number;
  readonly validationWindows: number;
}

/** meta.json's csv: the stored columns and which of them the model reads and predicts. */
function csvMeta(csv: CsvEncoding, file: string, length: number) {
  return {
    file,
    length,
    columns: csv.columns,
    features: csv.features.map((name) => csv.columns.indexOf(name)),
    targets: csv.targets.map((name) => csv.columns.indexOf(name)),
    normalization: csv.normalization,
  };
}

/** Writes the files of the header comment into options.outDir and returns what they hold. */
export async function writeLearningData(options: LearningDataOptions): Promise<LearningDataSummary> {
  const loaded = await loadJobSpec(options.specPath);
  const spec = options.source === undefined ? loaded : { ...loaded, data: { ...loaded.data, source: resolve(options.source) } };
  if (spec.data.source.startsWith('s3://'))
    throw new Error(`${options.specPath}: data.source ${spec.data.source}: the learning comparison reads a local file`);
  const seed = options.seed ?? spec.training.seed;
  const storeDir = await mkdtemp(join(os.tmpdir(), 'lstm-learning-data-'));
  const store = openStore(storeDir);
  try {
    const { manifest } = await prepareDataset({ store, data: spec.data, source: localFileSource(spec.data.source) });
    const rows = Buffer.concat(
      await Promise.all(
        manifest.segments.map((segment) => getVerified(store, `${datasetPrefix(manifest.datasetId)}${segment.name}`, segment.sha256)),
      ),
    );
    if (manifest.rows.total > 2 ** 31 - 1)
      throw new Error(`${options.specPath}: ${manifest.rows.total} rows do not fit the int32 window starts`);

    const layout = new WindowLayout(manifest.series, spec.data.window, manifest.source.name);
    const { training } = spec;
    // The shuffle a job of this spec gets (createJob), so the windows are the ones it trains on.
    const shuffle = shuffleForNewJob(manifest.rowsPerSegment, spec.data.window);
    const plan = new ShardPlan(
      { seed, epochs: training.epochs, batchSize: training.batchSize, shardSize: training.shardSize, shuffle },
      layout,
    );
    if (!Number.isSafeInteger(options.steps) || options.steps < 1 || options.steps > plan.totalSteps) {
      throw new RangeError(
        `--steps must be an integer in [1, ${plan.totalSteps}] (the spec's epochs x steps per epoch), got ${options.steps}`,
      );
    }
    const stepOffsets = new Int32Array(options.steps + 1);
    const trainStarts: number[] = [];
    for (let step = 0; step < options.steps; step++) {
      for (const window of plan.batchWindows(plan.position(step))) trainStarts.push(layout.rowsOf('train', window).first);
      stepOffsets[step + 1] = trainStarts.length;
    }
    // The coordinator's validation: at most maxValidationShards shards, evenly spaced.
    const shardCount = Math.min(plan.validationShards, DEFAULT_COORDINATOR_OPTIONS.maxValidationShards);
    const validationStarts: number[] = [];
    for (let i = 0; i < shardCount; i++) {
      const shard = Math.floor((i * plan.validationShards) / shardCount);
      for (const window of plan.validationShardWindows(shard)) validationStarts.push(layout.rowsOf('validation', window).first);
    }
    if (validationStarts.length === 0)
      throw new Error(`${options.specPath}: no validation window (data.validation is ${spec.data.validation})`);

    mkdirSync(options.outDir, { recursive: true });
    const int32 = (values: ArrayLike<number>): Uint8Array => new Uint8Array(Int32Array.from(values).buffer);
    const rowsFile = manifest.kind === 'text' ? 'tokens.bin' : 'rows.bin';
    writeFileSync(join(options.outDir, rowsFile), rows);
    writeFileSync(join(options.outDir, 'train-starts.bin'), int32(trainStarts));
    writeFileSync(join(options.outDir, 'train-steps.bin'), int32(stepOffsets));
    writeFileSync(join(options.outDir, 'validation-starts.bin'), int32(validationStarts));
    const meta = {
      format: LEARNING_DATA_FORMAT,
      version: LEARNING_DATA_VERSION,
      spec: options.specPath,
      datasetId: manifest.datasetId,
      lookBack: spec.data.window.lookBack,
      horizon: spec.data.window.horizon,
      model: { embedding: spec.model.embedding ?? 50, layers: spec.model.layers },
      training: { batchSize: training.batchSize, optimizer: training.optimizer, clipNorm: training.clipNorm ?? null, seed },
      ...(manifest.kind === 'text'
        ? {
            vocabularySize: manifest.text.vocabularySize,
            tokens: { file: rowsFile, dtype: manifest.text.tokenType, length: manifest.rows.total },
          }
        : { csv: csvMeta(manifest.csv, rowsFile, manifest.rows.total) }),
      train: { starts: 'train-starts.bin', steps: 'train-steps.bin', stepCount: options.steps, windows: trainStarts.length },
      validation: { starts: 'validation-starts.bin', windows: validationStarts.length },
    };
    writeFileSync(join(options.outDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    return {
      format: manifest.kind,
      datasetId: manifest.datasetId,
      rows: manifest.rows.total,
      vocabularySize: manifest.kind === 'text' ? manifest.text.vocabularySize : null,
      steps: options.steps,
      trainWindows: trainStarts.length,
      validationWindows: validationStarts.length,
    };
  } finally {
    await store.close();
    await rm(storeDir, { recursive: true, force: true });
  }
}

const count = z.number().int().positive();
const metaSchema = z.object({
  format: z.literal(LEARNING_DATA_FORMAT),
  version: z.literal(LEARNING_DATA_VERSION),
  lookBack: count,
  horizon: count,
  model: z.object({ embedding: count, layers: z.array(count) }),
  training: z.object({
    batchSize: count,
    optimizer: z.union([
      z.object({ type: z.literal('adam'), learningRate: z.number(), beta1: z.number(), beta2: z.number(), epsilon: z.number() }),
      z.object({ type: z.literal('sgd'), learningRate: z.number(), momentum: z.number() }),
    ]),
    clipNorm: z.number().nullable(),
    seed: z.number(),
  }),
  vocabularySize: count.optional(),
  tokens: z.object({ file: z.string(), dtype: z.enum(['uint8', 'uint16', 'int32']) }).optional(),
  csv: z
    .object({
      file: z.string(),
      length: count,
      columns: z.array(z.string()),
      features: z.array(z.number().int().nonnegative()),
      targets: z.array(z.number().int().nonnegative()),
      normalization: z.union([
        z.object({ method: z.literal('zscore'), mean: z.array(z.number()), std: z.array(z.number()) }),
        z.object({ method: z.literal('minmax'), min: z.array(z.number()), max: z.array(z.number()) }),
      ]),
    })
    .optional(),
});
export type LearningMeta = z.infer<typeof metaSchema>;

interface LearningFilesBase {
  readonly meta: LearningMeta;
  readonly trainStarts: Int32Array;
  /** [steps + 1] offsets into trainStarts */
  readonly stepOffsets: Int32Array;
  readonly validationStarts: Int32Array;
}
export interface TextLearningFiles extends LearningFilesBase {
  readonly kind: 'text';
  readonly vocabularySize: number;
  readonly tokens: Int32Array;
}
export interface CsvLearningFiles extends LearningFilesBase {
  readonly kind: 'csv';
  /** [rows, columns] normalized */
  readonly rows: Float32Array;
  readonly columns: readonly string[];
  readonly features: readonly number[];
  readonly targets: readonly number[];
  readonly normalization: Normalization;
}
/** What writeLearningData wrote, as arrays. */
export type LearningFiles = TextLearningFiles | CsvLearningFiles;

export function readLearningFiles(dir: string): LearningFiles {
  const meta = metaSchema.parse(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')));
  const bytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));
  const int32 = (name: string): Int32Array => {
    const b = bytes(name);
    return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const base = {
    meta,
    trainStarts: int32('train-starts.bin'),
    stepOffsets: int32('train-steps.bin'),
    validationStarts: int32('validation-starts.bin'),
  };
  if (meta.csv !== undefined) {
    const raw = bytes(meta.csv.file);
    const rows = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    return { ...base, kind: 'csv', rows, ...meta.csv };
  }
  if (meta.tokens === undefined || meta.vocabularySize === undefined) throw new Error(`${dir}/meta.json: neither tokens nor csv`);
  const raw = bytes(meta.tokens.file);
  const tokens =
    meta.tokens.dtype === 'uint8'
      ? Int32Array.from(raw)
      : meta.tokens.dtype === 'uint16'
        ? Int32Array.from(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2))
        : new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  return { ...base, kind: 'text', vocabularySize: meta.vocabularySize, tokens };
}

if (process.argv[1] === import.meta.filename) {
  const [specPath] = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const outDir = flag('--out');
  if (specPath === undefined || specPath.startsWith('--') || outDir === undefined || flag('--steps') === undefined) {
    console.error('usage: node --import tsx bench/learning-data.ts SPEC --out DIR --steps N [--seed S] [--source FILE]');
    process.exit(2);
  }
  const seed = flag('--seed');
  const source = flag('--source');
  const summary = await writeLearningData({
    specPath,
    outDir,
    steps: Number(flag('--steps')),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
    ...(source === undefined ? {} : { source }),
  });
  console.log(JSON.stringify(summary));
}
