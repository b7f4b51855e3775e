// Using a trained model: text generation for char-LMs and predictions in original units for
// time series. The backend is what `auto` picks here (inference needs no numerics profile).
import { loadComputeBackend } from '@lstm-runner/backends';
import { createRng, generate, predict, type ComputeBackend } from '@lstm-runner/lstm-core';
import { decodeTokens, denormalizeRows, encodeText, normalizeRows, readCsvTable, type ByteSource } from '@lstm-runner/data';
import type { TrainedModel } from './trained-model';

/** Windows per forward pass: bounds memory when backtesting over a long file. */
const PREDICT_BATCH_WINDOWS = 512;

async function inferenceBackend(name = 'auto'): Promise<ComputeBackend<Float32Array>> {
  return (await loadComputeBackend(name)).backend;
}

export interface GenerateTextOptions {
  readonly seed: string;
  readonly length: number;
  readonly temperature: number;
  readonly rngSeed: number;
  readonly backend?: string;
}

/** The seed followed by `length` generated characters. */
export async function generateText(trained: TrainedModel, options: GenerateTextOptions): Promise<string> {
  const { encoding } = trained;
  if (encoding.kind !== 'text') throw new Error(`${trained.name} (${trained.origin}) is a time-series model; generate needs a text model`);
  if (options.seed.length === 0) throw new Error('the seed text must not be empty');
  const seedTokens = encodeText(options.seed, encoding);
  const backend = await inferenceBackend(options.backend);
  try {
    const generated = generate(backend, trained.model, trained.weights, {
      seedTokens,
      length: options.length,
      temperature: options.temperature,
      rng: createRng(options.rngSeed),
      window: trained.window.lookBack,
      // The unknown token stands for characters the corpus did not have: it has no text.
      excludedTokens: [encoding.unknownId],
    });
    return options.seed + decodeTokens(generated, encoding.vocabulary);
  } finally {
    backend.dispose();
  }
}

export interface PredictOptions {
  /** Every window whose target row lies inside the file (backtesting), not just the forecast past its end. */
  readonly all: boolean;
  readonly backend?: string;
}

export interface CsvPredictions {
  /** The target column names: one value per target in every row of `values`. */
  readonly targets: readonly string[];
  /** Per prediction, the 1-based data row (header not counted) it is for; past the file's end for a forecast. */
  readonly rows: readonly number[];
  /** [predictions][targets], in original units. */
  readonly values: readonly (readonly number[])[];
}

/**
 * Predictions from the rows of a CSV file (one series, in time order; it needs the model's
 * feature columns). Without `all`: one forecast from the last lookBack rows, for `horizon`
 * rows past the end. With `all`: one per window whose target row lies inside the file, in
 * order: rows - lookBack - horizon + 1 of them.
 */
export async function predictCsv(trained: TrainedModel, source: ByteSource, options: PredictOptions): Promise<CsvPredictions> {
  const { encoding } = trained;
  if (encoding.kind !== 'csv') throw new Error(`${trained.name} (${trained.origin}) is a text model; predict needs a time-series model`);
  const { lookBack, horizon } = trained.window;
  const table = await readCsvTable(source, encoding.features);
  const firstRows: number[] = [];
  if (options.all) {
    for (let first = 0; first + lookBack + horizon <= table.rows; first++) firstRows.push(first);
  } else if (table.rows >= lookBack) {
    firstRows.push(table.rows - lookBack);
  }
  if (firstRows.length === 0) {
    const needed = options.all ? `${lookBack + horizon} (lookBack ${lookBack} + horizon ${horizon})` : `${lookBack} (lookBack)`;
    throw new Error(`${source.name}: ${table.rows} data rows, the model needs at least ${needed}`);
  }
  // [rows, I]: the table's columns are the features in order, so a window is a contiguous slice.
  const I = encoding.features.length;
  const normalized = normalizeRows(table.values, encoding.normalization.features);
  const K = encoding.targets.length;
  const values: number[][] = [];
  const backend = await inferenceBackend(options.backend);
  try {
    for (let start = 0; start < firstRows.length; start += PREDICT_BATCH_WINDOWS) {
      const batch = firstRows.slice(start, start + PREDICT_BATCH_WINDOWS);
      const features = new Float32Array(batch.length * lookBack * I);
      batch.forEach((first, b) => features.set(normalized.subarray(first * I, (first + lookBack) * I), b * lookBack * I));
      const outputs = denormalizeRows(
        predict(backend, trained.model, trained.weights, { B: batch.length, T: lookBack, features }),
        encoding.normalization.targets,
      );
      for (let b = 0; b < batch.length; b++) values.push(Array.from(outputs.subarray(b * K, (b + 1) * K)));
    }
  } finally {
    backend.dispose();
  }
  return { targets: encoding.targets, rows: firstRows.map((first) => first + lookBack + horizon), values };
}
