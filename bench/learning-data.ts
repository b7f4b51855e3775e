// The files bench/peers/torch_learning.py trains from, written from our own dataset so that
// PyTorch sees exactly the windows our coordinator gives a job's first N steps, in the same
// order, and validates on the same windows ours does:
//   meta.json              format and version, the spec's model and training settings, the
//                          vocabulary size, lookBack and horizon, and the files below
//   tokens.bin             the packed dataset's token ids, every row in order, in its token
//                          type (uint8, uint16 or int32), little-endian
//   train-starts.bin       int32 LE: the first row of every training window of steps 0..N-1,
//                          step after step, each step's batch in its order
//   train-steps.bin        int32 LE [N + 1]: where each step's windows begin in train-starts
//                          (step s is train-starts[steps[s] .. steps[s + 1]))
//   validation-starts.bin  int32 LE: the first row of every validation window the
//                          coordinator evaluates (its evenly spaced validation shards)
// A window's inputs are rows [start, start + lookBack); the character it predicts ('last')
// is row start + lookBack + horizon - 1; with 'sequence' (horizon 1) row start + t + 1 is
// predicted from the rows up to start + t.
//
//   node --import tsx bench/learning-data.ts SPEC --out DIR --steps N [--seed S]
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import {
  datasetPrefix,
  localFileSource,
  prepareDataset,
  ShardPlan,
  shuffleForNewJob,
  WindowLayout,
  type TextManifest,
} from '@lstm-runner/data';
import { loadJobSpec } from '@lstm-runner/protocol';
import { DEFAULT_COORDINATOR_OPTIONS } from '@lstm-runner/runner';
import { getVerified, openStore } from '@lstm-runner/storage';

export const LEARNING_DATA_FORMAT = 'lstm-runner/learning-data';
export const LEARNING_DATA_VERSION = 1;

export interface LearningDataOptions {
  /** A text job spec (YAML or JSON); its data.source must be a local file. */
  readonly specPath: string;
  readonly outDir: string;
  /** Training steps whose batches are written: steps 0 .. steps-1. */
  readonly steps: number;
  /** The shuffle's seed instead of the spec's training.seed (the run it matches uses the same). */
  readonly seed?: number;
}

export interface LearningDataSummary {
  readonly datasetId: string;
  readonly rows: number;
  readonly vocabularySize: number;
  readonly steps: number;
  readonly trainWindows: number;
  readonly validationWindows: number;
}

/** Writes the files of the header comment into options.outDir and returns what they hold. */
export async function writeLearningData(options: LearningDataOptions): Promise<LearningDataSummary> {
  const spec = await loadJobSpec(options.specPath);
  if (spec.data.format !== 'text')
    throw new Error(`${options.specPath}: data.format is ${spec.data.format}; the learning comparison takes text`);
  if (spec.data.source.startsWith('s3://'))
    throw new Error(`${options.specPath}: data.source ${spec.data.source}: the learning comparison reads a local file`);
  const seed = options.seed ?? spec.training.seed;
  const storeDir = await mkdtemp(join(os.tmpdir(), 'lstm-learning-data-'));
  const store = openStore(storeDir);
  try {
    const { manifest } = await prepareDataset({ store, data: spec.data, source: localFileSource(spec.data.source) });
    const text = manifest as TextManifest;
    const tokens = Buffer.concat(
      await Promise.all(
        text.segments.map((segment) => getVerified(store, `${datasetPrefix(text.datasetId)}${segment.name}`, segment.sha256)),
      ),
    );
    if (text.rows.total > 2 ** 31 - 1) throw new Error(`${options.specPath}: ${text.rows.total} rows do not fit the int32 window starts`);

    const layout = new WindowLayout(text.series, spec.data.window, text.source.name);
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
    writeFileSync(join(options.outDir, 'tokens.bin'), tokens);
    writeFileSync(join(options.outDir, 'train-starts.bin'), int32(trainStarts));
    writeFileSync(join(options.outDir, 'train-steps.bin'), int32(stepOffsets));
    writeFileSync(join(options.outDir, 'validation-starts.bin'), int32(validationStarts));
    const meta = {
      format: LEARNING_DATA_FORMAT,
      version: LEARNING_DATA_VERSION,
      spec: options.specPath,
      datasetId: text.datasetId,
      vocabularySize: text.text.vocabularySize,
      lookBack: spec.data.window.lookBack,
      horizon: spec.data.window.horizon,
      model: { embedding: spec.model.embedding ?? 50, layers: spec.model.layers },
      training: { batchSize: training.batchSize, optimizer: training.optimizer, clipNorm: training.clipNorm ?? null, seed },
      tokens: { file: 'tokens.bin', dtype: text.text.tokenType, length: text.rows.total },
      train: { starts: 'train-starts.bin', steps: 'train-steps.bin', stepCount: options.steps, windows: trainStarts.length },
      validation: { starts: 'validation-starts.bin', windows: validationStarts.length },
    };
    writeFileSync(join(options.outDir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
    return {
      datasetId: text.datasetId,
      rows: text.rows.total,
      vocabularySize: text.text.vocabularySize,
      steps: options.steps,
      trainWindows: trainStarts.length,
      validationWindows: validationStarts.length,
    };
  } finally {
    await store.close();
    await rm(storeDir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  const [specPath] = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? process.argv[at + 1] : undefined;
  };
  const outDir = flag('--out');
  if (specPath === undefined || specPath.startsWith('--') || outDir === undefined || flag('--steps') === undefined) {
    console.error('usage: node --import tsx bench/learning-data.ts SPEC --out DIR --steps N [--seed S]');
    process.exit(2);
  }
  const seed = flag('--seed');
  const summary = await writeLearningData({
    specPath,
    outDir,
    steps: Number(flag('--steps')),
    ...(seed === undefined ? {} : { seed: Number(seed) }),
  });
  console.log(JSON.stringify(summary));
}
