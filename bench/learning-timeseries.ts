// bench:learning on a CSV spec (issue 13's time-series comparison): the spec's model (feature
// input, stacked LSTMs, a regression head on the last step) trained by ours (learning-train.ts,
// the coordinator's step) with init keras and uniform, and by tfjs-layers' model.fit with
// Keras's initialisation (glorot kernels, orthogonal recurrent kernels, unit forget bias:
// our init 'keras'), on the same windows of the same steps in the same order, from the same
// normalized rows, with the spec's Adam (epsilon passed explicitly) and batch. Clipping is off
// on both sides: tfjs-layers has no clipnorm (--spec-clipping clips ours at the spec's
// clipNorm and skips tfjs-layers). Each step is one model.fit call on that step's
// windows (batchSize = the step's window count, shuffle off), so both see the same batches.
//
// Figures: the validation MAE in original units (predictions and targets denormalized) over
// the coordinator's validation windows at every checkpoint, next to two baselines on the same
// windows: last value (the target column's value at the window's last row) and seasonal naive
// (its value `--season` rows before the predicted row; default 7, a week of daily rows).
import os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { loadComputeBackend } from '@lstm-runner/backends';
import { predict, type Batch, type ComputeBackend, type ModelSpec } from '@lstm-runner/lstm-core';
import { denormalizeRows, selectColumns } from '@lstm-runner/data';
import { benchFlag, writeBenchResults } from './bench-results';
import type { CsvLearningFiles } from './learning-data';
import { mean, round4, trainOurs, type LearningRun, type TrainingRun } from './learning-train';

interface Validation {
  /** Mean absolute error of the targets, original units. */
  readonly mae: number;
  /** Mean squared error, normalized units (the loss the job reports). */
  readonly loss: number;
}

/** windows starting at `starts` -> features [B,T,I] and the targets of the predicted row [B,K]. */
function featureBatch(files: CsvLearningFiles, starts: ArrayLike<number>): Batch<Float32Array> {
  const { lookBack: T, horizon } = files.meta;
  const C = files.columns.length;
  const [B, I, K] = [starts.length, files.features.length, files.targets.length];
  const features = new Float32Array(B * T * I);
  const targets = new Float32Array(B * K);
  for (let b = 0; b < B; b++) {
    const start = starts[b]!;
    for (let t = 0; t < T; t++)
      for (let i = 0; i < I; i++) features[(b * T + t) * I + i] = files.rows[(start + t) * C + files.features[i]!]!;
    const target = start + T + horizon - 1;
    for (let k = 0; k < K; k++) targets[b * K + k] = files.rows[target * C + files.targets[k]!]!;
  }
  return { B, T, features, targets };
}

/** predictions [N,K] (normalized) of the validation windows -> MAE (original units) and MSE (normalized). */
function scoreValidation(files: CsvLearningFiles, validation: Batch<Float32Array>, predictions: ArrayLike<number>): Validation {
  const targetNormalization = selectColumns(files.normalization, files.targets);
  const predicted = denormalizeRows(predictions, targetNormalization);
  const actual = denormalizeRows(validation.targets!, targetNormalization);
  let absolute = 0;
  let squared = 0;
  for (let n = 0; n < predicted.length; n++) {
    absolute += Math.abs(predicted[n]! - actual[n]!);
    squared += (predictions[n]! - validation.targets![n]!) ** 2;
  }
  return { mae: absolute / predicted.length, loss: squared / predicted.length };
}

/** MAE (original units) on the validation windows of predicting the target as the value `lag` rows before it. */
function laggedValueMae(files: CsvLearningFiles, lag: number): number {
  const { lookBack: T, horizon } = files.meta;
  const C = files.columns.length;
  const original = denormalizeRows(files.rows, files.normalization); // [rows, C]
  let absolute = 0;
  let count = 0;
  for (const start of files.validationStarts) {
    const target = start + T + horizon - 1;
    for (const column of files.targets) {
      absolute += Math.abs(original[target * C + column]! - original[(target - lag) * C + column]!);
      count++;
    }
  }
  return absolute / count;
}

/** The spec's model in tfjs-layers with Keras's initialisation, compiled with the spec's Adam and MSE. */
function kerasModel(files: CsvLearningFiles, seed: number): tf.LayersModel {
  const { lookBack: T, model, training } = files.meta;
  const layers = model.layers;
  const net = tf.sequential();
  layers.forEach((units, n) => {
    net.add(
      tf.layers.lstm({
        units,
        returnSequences: n < layers.length - 1,
        // tfjs-layers defaults to hardSigmoid; Keras and ours use the sigmoid.
        recurrentActivation: 'sigmoid',
        unitForgetBias: true,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + 2 * n }),
        recurrentInitializer: tf.initializers.orthogonal({ seed: seed * 100 + 2 * n + 1, gain: 1 }),
        ...(n === 0 ? { inputShape: [T, files.features.length] } : {}),
      }),
    );
  });
  net.add(tf.layers.dense({ units: files.targets.length, kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 100 + 99 }) }));
  const { optimizer } = training;
  if (optimizer.type !== 'adam') throw new Error(`the tfjs-layers peer takes Adam, the spec says ${optimizer.type}`);
  net.compile({
    optimizer: tf.train.adam(optimizer.learningRate, optimizer.beta1, optimizer.beta2, optimizer.epsilon),
    loss: 'meanSquaredError',
  });
  return net;
}

/** tfjs-layers' model.fit, one call per step on that step's windows, validated at the checkpoints. */
async function trainKeras(files: CsvLearningFiles, seed: number, checkpoints: readonly number[]): Promise<TrainingRun<Validation>> {
  const net = kerasModel(files, seed);
  const validationBatch = featureBatch(files, files.validationStarts);
  const I = files.features.length;
  const K = files.targets.length;
  const { lookBack: T } = files.meta;
  const validation: Record<string, Validation> = {};
  let trainMs = 0;
  const last = checkpoints.at(-1)!;
  for (let step = 0; step <= last; step++) {
    if (checkpoints.includes(step)) {
      const x = tf.tensor3d(validationBatch.features!, [validationBatch.B, T, I]);
      const y = net.predict(x) as tf.Tensor;
      validation[step] = scoreValidation(files, validationBatch, y.dataSync());
      tf.dispose([x, y]);
    }
    if (step === last) break;
    const started = performance.now();
    const batch = featureBatch(files, files.trainStarts.subarray(files.stepOffsets[step]!, files.stepOffsets[step + 1]!));
    const x = tf.tensor3d(batch.features!, [batch.B, T, I]);
    const y = tf.tensor2d(batch.targets!, [batch.B, K]);
    await net.fit(x, y, { batchSize: batch.B, epochs: 1, shuffle: false, verbose: 0 });
    tf.dispose([x, y]);
    trainMs += performance.now() - started;
  }
  net.dispose();
  return { validation, msPerStep: trainMs / last };
}

function meanValidation(runs: readonly TrainingRun<Validation>[], checkpoints: readonly number[]): Record<string, Validation> {
  return Object.fromEntries(
    checkpoints.map((step) => [
      step,
      {
        mae: round4(mean(runs.map((run) => run.validation[step]!.mae))),
        loss: round4(mean(runs.map((run) => run.validation[step]!.loss))),
      },
    ]),
  );
}

function describeRow(label: string, runs: readonly TrainingRun<Validation>[], checkpoints: readonly number[]): string {
  const means = meanValidation(runs, checkpoints);
  const cells = checkpoints.map((step) => means[step]!.mae.toFixed(1).padStart(9));
  const last = checkpoints.at(-1)!;
  const spread = runs.map((run) => run.validation[last]!.mae.toFixed(1)).join(', ');
  return `  ${label.padEnd(22)} ${cells.join(' ')}  (step ${last}: ${spread}) | ${mean(runs.map((r) => r.msPerStep)).toFixed(1)} ms/step`;
}

/** The comparison of the header comment; writes bench/results/<run.resultsName>.json. */
export async function compareTimeSeries(run: LearningRun, files: CsvLearningFiles, backend: ComputeBackend<Float32Array>): Promise<void> {
  const season = Number(benchFlag('--season') ?? 7);
  // --spec-clipping: ours clips at the spec's clipNorm, as its jobs do; tfjs-layers cannot, so it is skipped.
  const clipNorm = process.argv.includes('--spec-clipping') ? files.meta.training.clipNorm : null;
  const { checkpoints, seeds } = run;
  const validationBatch = featureBatch(files, files.validationStarts);
  const baselines = { lastValue: round4(laggedValueMae(files, files.meta.horizon)), seasonalNaive: round4(laggedValueMae(files, season)) };
  const targetNames = files.targets.map((k) => files.columns[k]!).join(', ');
  console.log(`validation MAE of ${targetNames} (original units) at steps ${checkpoints.join(', ')}; means of ${seeds} init seeds`);
  console.log(`  last value ${baselines.lastValue.toFixed(1)}, seasonal naive (${season} rows back) ${baselines.seasonalNaive.toFixed(1)}`);
  const rows: Record<string, { runs: TrainingRun<Validation>[]; mean: Record<string, Validation>; msPerStep: number }> = {};
  const record = (label: string, runs: TrainingRun<Validation>[]): void => {
    rows[label] = { runs, mean: meanValidation(runs, checkpoints), msPerStep: mean(runs.map((r) => r.msPerStep)) };
    console.log(describeRow(label, runs, checkpoints));
    writeBenchResults(run.resultsName, {
      ...run.describe(),
      clipNorm: clipNorm ?? 'off on both sides (tfjs-layers has no clipnorm)',
      season,
      validationWindows: files.validationStarts.length,
      baselines,
      results: rows,
    });
  };
  for (const config of run.configs) {
    if (config.output !== 'last') throw new Error(`--configs: a time-series model predicts from its last step, got ${config.output}`);
    const spec: ModelSpec = {
      input: { kind: 'features', size: files.features.length },
      layers: files.meta.model.layers,
      head: { kind: 'regression', outputs: files.targets.length },
      init: config.init,
    };
    const validate = (params: Float32Array): Validation =>
      scoreValidation(files, validationBatch, predict(backend, spec, params, validationBatch));
    const ours: TrainingRun<Validation>[] = [];
    for (let seed = 1; seed <= seeds; seed++) {
      const batchOf = (starts: Int32Array): Batch<Float32Array> => featureBatch(files, starts);
      ours.push(trainOurs({ backend, spec, seed, files, checkpoints, clipNorm, batchOf, validate }));
    }
    record(`ours, init ${config.init}`, ours);
  }
  if (process.argv.includes('--no-peer') || clipNorm !== null) return;
  // tfjs-layers on the wasm backend (one thread in Node), registered by our tfjs backend.
  const wasm = await loadComputeBackend('wasm');
  try {
    await tf.setBackend('wasm');
    const keras: TrainingRun<Validation>[] = [];
    // Recorded after every seed: its steps are slow, and a stopped run keeps what it measured.
    for (let seed = 1; seed <= seeds; seed++) {
      keras.push(await trainKeras(files, seed, checkpoints));
      record(`tfjs-layers ${tf.version.tfjs} fit (wasm), init keras`, keras);
    }
  } finally {
    wasm.backend.dispose();
  }
  console.log(
    `load after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}
