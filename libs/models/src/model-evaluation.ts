// Evaluating models on the same data for the promotion gate: each model through its own
// encoding (normalization or vocabulary), figures in units both share. CSV: mean absolute or
// root mean squared error of the targets in original units; text: cross-entropy in nats per
// character. The data are raw (original units, text): a holdout file, or the validation rows
// of a run's packed dataset decoded back to raw.
import { loadComputeBackend } from '@lstm-runner/backends';
import type { Figure } from '@lstm-runner/job-store';
import { nextTokenLoss, predict, type ComputeBackend } from '@lstm-runner/lstm-core';
import {
  affineColumns,
  decodeTokens,
  denormalizeRows,
  encodeText,
  openDataset,
  readCsvTable,
  readFileChunks,
  type ByteSource,
  type CsvTable,
} from '@lstm-runner/data';
import type { PromotionMetric } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type { TrainedModel } from './trained-model';

/** Raw evaluation data: tables in original units, or texts; windows never cross two of them. */
export type EvaluationData =
  | { readonly kind: 'csv'; readonly description: string; readonly tables: readonly CsvTable[] }
  | { readonly kind: 'text'; readonly description: string; readonly texts: readonly string[] };

/** At most this many windows are evaluated per model, evenly spaced over the data. */
export const MAX_EVALUATION_WINDOWS = 8192;
const BATCH_WINDOWS = 256;

/** A holdout file: CSV with the named columns (one series, in time order), or text. */
export async function readHoldout(source: ByteSource, format: 'csv' | 'text', columns: readonly string[]): Promise<EvaluationData> {
  const description = `holdout ${source.name}`;
  if (format === 'csv') return { kind: 'csv', description, tables: [await readCsvTable(source, [...new Set(columns)])] };
  const chunks: Uint8Array[] = [];
  for await (const chunk of 'path' in source ? readFileChunks(source.path) : source.stream) chunks.push(chunk);
  return { kind: 'text', description, texts: [Buffer.concat(chunks).toString('utf8')] };
}

/**
 * The validation windows' rows of a packed dataset, decoded to raw: per series, its
 * validation rows with the lookBack + horizon - 1 rows before them that its first validation
 * window reads.
 */
export async function validationData(
  store: ObjectStore,
  datasetId: string,
  window: { readonly lookBack: number; readonly horizon: number },
  cacheDir: string,
): Promise<EvaluationData> {
  const reader = await openDataset(store, datasetId, { cacheDir, window: { ...window, step: 1 } });
  const { manifest } = reader;
  const description = `validation windows of dataset ${datasetId}`;
  const ranges = manifest.series
    .map((s) => [s.start + Math.max(0, s.trainRows - window.lookBack - window.horizon + 1), s.start + s.rows] as const)
    .filter(([first, end]) => end - first >= window.lookBack + window.horizon);
  if (manifest.kind === 'text') {
    const texts = await Promise.all(
      ranges.map(async ([first, end]) => decodeTokens(await reader.rowRange(first, end), manifest.text.vocabulary)),
    );
    return { kind: 'text', description, texts };
  }
  const { columns, normalization } = manifest.csv;
  const tables = await Promise.all(
    ranges.map(async ([first, end]) => {
      const values = denormalizeRows(await reader.rowRange(first, end), normalization);
      return { columns, rows: end - first, values };
    }),
  );
  return { kind: 'csv', description, tables };
}

/** Window starts 0..count-1, at most MAX_EVALUATION_WINDOWS of them, evenly spaced. */
function windowStarts(count: number): number[] {
  const n = Math.min(count, MAX_EVALUATION_WINDOWS);
  return Array.from({ length: n }, (_, i) => Math.floor((i * count) / n));
}

function columnIndex(table: CsvTable, name: string, source: string): number {
  const index = table.columns.indexOf(name);
  if (index < 0) throw new Error(`${source} has no column "${name}" (it has: ${table.columns.join(', ')})`);
  return index;
}

interface Errors {
  absolute: number;
  squared: number;
  count: number;
}

/** Adds one table's target errors of a CSV model to `errors`. */
function csvErrors(backend: ComputeBackend<Float32Array>, trained: TrainedModel, table: CsvTable, source: string, errors: Errors): void {
  const { encoding } = trained;
  if (encoding.kind !== 'csv') throw new Error('not a CSV model');
  const { lookBack: T, horizon } = trained.window;
  const features = encoding.features.map((name) => columnIndex(table, name, source));
  const targets = encoding.targets.map((name) => columnIndex(table, name, source));
  const { shift, scale } = affineColumns(encoding.normalization.features);
  const [C, I, K] = [table.columns.length, features.length, targets.length];
  const starts = windowStarts(Math.max(0, table.rows - T - horizon + 1));
  for (let at = 0; at < starts.length; at += BATCH_WINDOWS) {
    const batch = starts.slice(at, at + BATCH_WINDOWS);
    // [B,T,I] normalized with this model's statistics.
    const x = new Float32Array(batch.length * T * I);
    batch.forEach((first, b) => {
      for (let t = 0; t < T; t++)
        for (let i = 0; i < I; i++) x[(b * T + t) * I + i] = (table.values[(first + t) * C + features[i]!]! - shift[i]!) / scale[i]!;
    });
    // [B,K] in original units.
    const y = denormalizeRows(
      predict(backend, trained.model, trained.weights, { B: batch.length, T, features: x }),
      encoding.normalization.targets,
    );
    batch.forEach((first, b) => {
      const row = first + T + horizon - 1;
      for (let k = 0; k < K; k++) {
        const error = y[b * K + k]! - table.values[row * C + targets[k]!]!;
        errors.absolute += Math.abs(error);
        errors.squared += error * error;
        errors.count += 1;
      }
    });
  }
}

/** Summed cross-entropy (nats) of the character after each of one text's windows, and their count, under a char model. */
function textLoss(backend: ComputeBackend<Float32Array>, trained: TrainedModel, text: string): { loss: number; count: number } {
  const { encoding } = trained;
  if (encoding.kind !== 'text') throw new Error('not a text model');
  const { lookBack: T, horizon } = trained.window;
  const ids = encodeText(text, encoding);
  const starts = windowStarts(Math.max(0, ids.length - T - horizon + 1));
  let loss = 0;
  for (let at = 0; at < starts.length; at += BATCH_WINDOWS) {
    const batch = starts.slice(at, at + BATCH_WINDOWS);
    const tokens = new Int32Array(batch.length * T);
    const classes = new Int32Array(batch.length);
    batch.forEach((first, b) => {
      tokens.set(ids.subarray(first, first + T), b * T);
      classes[b] = ids[first + T + horizon - 1]!;
    });
    loss += nextTokenLoss(backend, trained.model, trained.weights, { B: batch.length, T, tokens, classes }).loss;
  }
  return { loss, count: starts.length };
}

/** The model's figure on the data: lower is better. Throws when the model and data or metric do not fit. */
export function evaluateModel(
  backend: ComputeBackend<Float32Array>,
  trained: TrainedModel,
  data: EvaluationData,
  metric: PromotionMetric,
): number {
  const what = `${trained.name} (${trained.origin})`;
  if (trained.encoding.kind !== data.kind) throw new Error(`${what} is a ${trained.encoding.kind} model; the data are ${data.kind}`);
  if (data.kind === 'text') {
    if (metric !== 'loss') throw new Error(`metric ${metric} does not apply to text models (use loss)`);
    const sums = data.texts.map((text) => textLoss(backend, trained, text));
    const count = sums.reduce((n, s) => n + s.count, 0);
    if (count === 0) throw new Error(`${data.description} has no window of ${trained.window.lookBack + trained.window.horizon} characters`);
    return sums.reduce((n, s) => n + s.loss, 0) / count;
  }
  if (metric === 'loss') throw new Error('metric loss applies to text models; use mae or rmse');
  const errors: Errors = { absolute: 0, squared: 0, count: 0 };
  for (const table of data.tables) csvErrors(backend, trained, table, data.description, errors);
  if (errors.count === 0) throw new Error(`${data.description} has no window of ${trained.window.lookBack + trained.window.horizon} rows`);
  return metric === 'mae' ? errors.absolute / errors.count : Math.sqrt(errors.squared / errors.count);
}

/** Both models' figures on the same data, each through its own encoding; a model that cannot be evaluated gets a problem instead. */
export async function evaluateOnSameData(
  candidate: TrainedModel,
  baseline: TrainedModel | null,
  data: EvaluationData,
  metric: PromotionMetric,
  backendName = 'auto',
): Promise<{ readonly candidate: Figure; readonly baseline: Figure | null }> {
  const backend = (await loadComputeBackend(backendName)).backend;
  const figure = (trained: TrainedModel): Figure => {
    try {
      return { value: evaluateModel(backend, trained, data, metric) };
    } catch (error) {
      return { problem: (error as Error).message };
    }
  };
  try {
    return { candidate: figure(candidate), baseline: baseline === null ? null : figure(baseline) };
  } finally {
    backend.dispose();
  }
}
