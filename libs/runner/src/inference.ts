// Using a trained model: text generation for char-LMs and predictions in original units for
// time series. The backend is what `auto` picks here (inference needs no numerics profile).
import { BackendRegistry, createRng, generate, predict, registerTfjsBackends, type ComputeBackend } from '@lstm-runner/lstm-core';
import { decodeTokens, denormalizeTargets, encodeText, featureWindows, type CsvTable } from '@lstm-runner/data';
import type { TrainedModel } from './model-ref';

async function inferenceBackend(name = 'auto'): Promise<ComputeBackend<Float32Array>> {
  return (await registerTfjsBackends(new BackendRegistry()).load(name)).backend;
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
  if (trained.dataset.kind !== 'text') throw new Error(`${trained.name} (${trained.origin}) is a time-series model; generate needs a text model`);
  if (options.seed.length === 0) throw new Error('--seed must not be empty');
  const { vocabulary, lowercase } = trained.dataset.text;
  const seedTokens = encodeText(options.seed, { vocabulary, lowercase });
  const backend = await inferenceBackend(options.backend);
  try {
    const generated = generate(backend, trained.model, trained.weights, {
      seedTokens,
      length: options.length,
      temperature: options.temperature,
      rng: createRng(options.rngSeed),
      window: trained.window.lookBack,
    });
    return options.seed + decodeTokens(generated, vocabulary);
  } finally {
    backend.dispose();
  }
}

/**
 * Predictions in original units, one row per window and one value per target. Without
 * `all`: one forecast from the last lookBack rows. With `all`: every window whose target
 * row lies inside the table, in order (backtesting).
 */
export async function predictTable(trained: TrainedModel, table: CsvTable, all: boolean, backendName?: string): Promise<number[][]> {
  if (trained.dataset.kind !== 'csv') throw new Error(`${trained.name} (${trained.origin}) is a text model; predict needs a time-series model`);
  const { lookBack, horizon } = trained.window;
  const rows = table.rows;
  const firstRows: number[] = [];
  if (all) {
    for (let first = 0; first + lookBack + horizon <= rows; first++) firstRows.push(first);
  } else if (rows >= lookBack) {
    firstRows.push(rows - lookBack);
  }
  if (firstRows.length === 0) {
    throw new Error(`the input has ${rows} rows; the model needs at least ${all ? lookBack + horizon : lookBack} (lookBack ${lookBack}${all ? `, horizon ${horizon}` : ''})`);
  }
  const encoding = trained.dataset.csv;
  const features = featureWindows(table, encoding, lookBack, firstRows);
  const backend = await inferenceBackend(backendName);
  try {
    const normalized = predict(backend, trained.model, trained.weights, { B: firstRows.length, T: lookBack, features });
    const values = denormalizeTargets(normalized, encoding);
    const K = encoding.targets.length;
    return firstRows.map((_, b) => Array.from(values.subarray(b * K, (b + 1) * K)));
  } finally {
    backend.dispose();
  }
}
