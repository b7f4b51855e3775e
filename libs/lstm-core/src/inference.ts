// Inference: regression predictions, next-token distributions and text generation with
// temperature sampling from a seeded RNG (same seed, same text). A model with output
// 'sequence' predicts after every timestep; the next token is its last timestep's prediction.

import type { ComputeBackend, FloatArray } from './backend';
import { forwardLogits, type Batch } from './model';
import type { Rng } from './rng';
import { headWidth, type ModelSpec } from './model-spec';

/**
 * batch -> [B,K] what the model outputs, as Keras's predict: the regression values, or the
 * class probabilities (softmax) for a classification head; [B*T,K] with output 'sequence'
 * (Keras's [B,T,K] of a model whose LSTM returns sequences).
 */
export function predict<F extends FloatArray>(backend: ComputeBackend<F>, spec: ModelSpec, params: F, batch: Batch<F>): F {
  const logits = forwardLogits(backend, spec, params, batch);
  if (spec.head.kind === 'classification') softmaxRowsInPlace(logits, headWidth(spec), 1);
  return logits;
}

/** batch -> [B,V] probabilities of the next token, softmax(logits / temperature); temperature > 0. */
export function nextTokenDistribution<F extends FloatArray>(
  backend: ComputeBackend<F>,
  spec: ModelSpec,
  params: F,
  batch: Batch<F>,
  temperature = 1,
): F {
  if (spec.head.kind !== 'classification') throw new RangeError('nextTokenDistribution needs a classification head');
  if (!(temperature > 0) || !Number.isFinite(temperature))
    throw new RangeError(`temperature must be a positive number, got ${temperature}`);
  const logits = lastPositionLogits(spec, forwardLogits(backend, spec, params, batch), batch.B, batch.T);
  softmaxRowsInPlace(logits, headWidth(spec), temperature);
  return logits;
}

// logits [B,K], or [B*T,K] with output 'sequence' -> [B,K] the prediction after each window's last timestep.
function lastPositionLogits<F extends FloatArray>(spec: ModelSpec, logits: F, B: number, T: number): F {
  if (spec.output !== 'sequence') return logits;
  const K = headWidth(spec);
  const last = logits.slice(0, B * K) as F;
  for (let b = 0; b < B; b++) last.set(logits.subarray((b * T + T - 1) * K, (b * T + T) * K), b * K);
  return last;
}

export interface GenerateOptions {
  /** The text to continue, as token ids; at least one. */
  readonly seedTokens: Int32Array;
  /** How many tokens to generate. */
  readonly length: number;
  /** 0 = always the most likely token; otherwise sample from softmax(logits / temperature). */
  readonly temperature: number;
  /** Draws the samples; seeded by the caller, so the same seed gives the same text. */
  readonly rng: Rng;
  /** The model reads the last `window` tokens (the training lookBack), or all there are when fewer. */
  readonly window: number;
  /** Tokens never generated, whatever their probability (a data layer's "unknown" token). */
  readonly excludedTokens?: readonly number[];
}

/** Generates `length` token ids after the seed (the seed itself is not returned). */
export function generate<F extends FloatArray>(
  backend: ComputeBackend<F>,
  spec: ModelSpec,
  params: F,
  options: GenerateOptions,
): Int32Array {
  const { seedTokens, length, temperature, rng, window, excludedTokens = [] } = options;
  if (spec.input.kind !== 'tokens' || spec.head.kind !== 'classification' || spec.head.classes !== spec.input.vocabulary) {
    throw new RangeError('generate needs token input and a classification head over the same vocabulary');
  }
  if (seedTokens.length === 0) throw new RangeError('generate needs at least one seed token');
  if (!Number.isInteger(length) || length < 0) throw new RangeError(`length must be a non-negative integer, got ${length}`);
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
  const V = spec.input.vocabulary;
  for (const token of excludedTokens) {
    if (!Number.isInteger(token) || token < 0 || token >= V)
      throw new RangeError(`excluded token ${token} is not a token of this vocabulary (0..${V - 1})`);
  }
  if (new Set(excludedTokens).size >= V) throw new RangeError('generate needs at least one token that is not excluded');

  const text = new Int32Array(seedTokens.length + length);
  text.set(seedTokens);
  for (let position = seedTokens.length; position < text.length; position++) {
    const context = text.subarray(Math.max(0, position - window), position);
    const logits = lastPositionLogits(
      spec,
      forwardLogits(backend, spec, params, { B: 1, T: context.length, tokens: context }),
      1,
      context.length,
    );
    for (const token of excludedTokens) logits[token] = -Infinity;
    text[position] = temperature === 0 ? argmax(logits) : sampleSoftmax(logits, temperature, rng);
  }
  return text.slice(seedTokens.length);
}

// logits [K] -> the first index of the largest value.
function argmax(logits: FloatArray): number {
  let best = 0;
  for (let k = 1; k < logits.length; k++) if (logits[k]! > logits[best]!) best = k;
  return best;
}

// logits [K] -> an index drawn with probability softmax(logits / temperature), one rng draw.
function sampleSoftmax(logits: FloatArray, temperature: number, rng: Rng): number {
  const probabilities = Float64Array.from(logits);
  softmaxRowsInPlace(probabilities, probabilities.length, temperature);
  const draw = rng.nextFloat();
  let cumulative = 0;
  for (let k = 0; k < probabilities.length; k++) {
    cumulative += probabilities[k]!;
    if (draw < cumulative) return k;
  }
  // Rounding can leave the cumulative sum a hair below 1: the last possible token takes the rest.
  let last = probabilities.length - 1;
  while (last > 0 && probabilities[last] === 0) last--;
  return last;
}

// values [rows, K] -> softmax(values / temperature) per row, in place, shifted by the row max.
function softmaxRowsInPlace(values: FloatArray, K: number, temperature: number): void {
  for (let offset = 0; offset < values.length; offset += K) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, values[offset + k]!);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp((values[offset + k]! - max) / temperature);
      values[offset + k] = e;
      sum += e;
    }
    for (let k = 0; k < K; k++) values[offset + k] = values[offset + k]! / sum;
  }
}
