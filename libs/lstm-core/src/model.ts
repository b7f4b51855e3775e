// The whole model on any ComputeBackend: input (features, or tokens through the embedding)
// -> stacked LSTM layers -> dense head on the last timestep (output 'last') or on every
// timestep (output 'sequence': the dense layer over B*T rows) -> loss; and the backward in
// reverse. The losses, per prediction (one per window, or T per window with 'sequence'):
//   regression:      sum over K of (y - target)^2 / K, so loss / count is Keras's 'mse';
//   classification:  softmax cross-entropy, -log softmax(y)[class], via a stable log-sum-exp.
// Losses and gradients are SUMMED over the predictions of a batch (not averaged): shards of a
// step add up, and the coordinator divides by the total count once (so a sequence model's
// loss is still nats per character: the mean over B*T positions).

import type { ComputeBackend, FloatArray, LayerCache, LstmShape } from './backend';
import { modelGradients, modelParameters, type ModelParameters } from './layout';
import { headWidth, inputWidth, lastLayerUnits, predictionsPerWindow, type ModelSpec } from './model-spec';

/** B windows of T timesteps. Features for feature input, tokens for token input; targets or
 * classes for the loss (not needed for inference). */
export interface Batch<F extends FloatArray = FloatArray> {
  readonly B: number;
  readonly T: number;
  /** [B,T,I] */
  readonly features?: F;
  /** [B*T] token ids < V */
  readonly tokens?: Int32Array;
  /** [B,K] regression targets */
  readonly targets?: F;
  /** [B] class ids < K; [B*T] with output 'sequence' (the class after every timestep) */
  readonly classes?: Int32Array;
}

/**
 * The model's activations and their gradients (llm.c's acts and grads_acts), named arrays
 * kept from call to call: a training loop that passes the same ModelActivations allocates
 * them once per batch shape. Every call overwrites what it reads back.
 */
export class ModelActivations<F extends FloatArray> {
  private readonly arrays = new Map<string, F>();

  constructor(private readonly allocate: (length: number) => F) {}

  /** The array called `name` with `length` values: the previous call's when the length is unchanged. */
  array(name: string, length: number): F {
    let array = this.arrays.get(name);
    if (array === undefined || array.length !== length) {
      array = this.allocate(length);
      this.arrays.set(name, array);
    }
    return array;
  }
}

export interface LossResult {
  /** Summed over the batch's predictions; NaN or Infinity when the step diverged. */
  readonly loss: number;
  /** Predictions in the batch: B, or B*T with output 'sequence'. */
  readonly count: number;
}

/**
 * batch [B windows of T steps] -> loss summed over the windows; the summed gradient is ADDED
 * into grads [P] (P parameters, the same layout as params [P]).
 */
export function lossAndGradient<F extends FloatArray>(
  backend: ComputeBackend<F>,
  spec: ModelSpec,
  params: F,
  batch: Batch<F>,
  grads: F,
  activations = new ModelActivations<F>((length) => backend.allocate(length)),
): LossResult {
  const weights = modelParameters(spec, params);
  const dWeights = modelGradients(spec, grads);
  const forward = forwardPass(backend, spec, weights, batch, true, activations);
  try {
    const { B, T } = batch;
    const H = lastLayerUnits(spec);
    const K = headWidth(spec);
    const rows = forward.rows;
    const dLogits = activations.array('dLogits', rows * K);
    const loss = headLoss(spec, forward.logits, rows, batch, dLogits);
    const last = spec.layers.length - 1;
    const dHidden = activations.array(hiddenGradientName(last), B * T * H);
    if (spec.output === 'sequence') {
      // The head read every timestep: its input gradient is the last layer's whole dHidden [B*T,H].
      backend.denseBackward(
        { B: rows, H, K },
        forward.headInput,
        dLogits,
        weights.denseKernel,
        dWeights.dDenseKernel,
        dWeights.dDenseBias,
        dHidden,
      );
    } else {
      const dLast = activations.array('dLastHidden', B * H);
      backend.denseBackward(
        { B, H, K },
        forward.headInput,
        dLogits,
        weights.denseKernel,
        dWeights.dDenseKernel,
        dWeights.dDenseBias,
        dLast,
      );
      // Only the last timestep feeds the head; every other step's gradient comes through the recurrence.
      dHidden.fill(0);
      for (let b = 0; b < B; b++) dHidden.set(dLast.subarray(b * H, (b + 1) * H), (b * T + T - 1) * H);
    }
    for (let n = last; n >= 0; n--) {
      const shape = layerShape(spec, n, B, T);
      // Layer n's input gradient is layer n-1's hidden gradient, or the embedding's.
      const dX = n > 0 || spec.input.kind === 'tokens' ? activations.array(hiddenGradientName(n - 1), B * T * shape.I) : null;
      const cache = forward.caches[n]!;
      forward.caches[n] = null;
      backend.lstmBackward(
        shape,
        cache,
        activations.array(hiddenGradientName(n), B * T * shape.H),
        weights.layers[n]!,
        dWeights.layers[n]!,
        dX,
      );
    }
    if (spec.input.kind === 'tokens') {
      backend.embeddingBackward(
        batch.tokens!,
        activations.array(hiddenGradientName(-1), B * T * spec.input.embedding),
        dWeights.dEmbedding!,
        spec.input.embedding,
      );
    }
    return { loss, count: rows };
  } finally {
    releaseAll(backend, forward.caches);
  }
}

/** batch [B windows of T steps] -> summed loss, without gradients (validation). */
export function evaluateLoss<F extends FloatArray>(
  backend: ComputeBackend<F>,
  spec: ModelSpec,
  params: F,
  batch: Batch<F>,
  activations = new ModelActivations<F>((length) => backend.allocate(length)),
): LossResult {
  const { logits, rows } = forwardPass(backend, spec, modelParameters(spec, params), batch, false, activations);
  return { loss: headLoss(spec, logits, rows, batch, null), count: rows };
}

/**
 * batch [B windows of T steps, classes [B] the token after each] -> the summed cross-entropy
 * (nats) of the prediction after each window's last timestep, and B. The same figure for
 * output 'last' and 'sequence' (whose evaluateLoss averages over every position), so that
 * models of either kind compare on the same data.
 */
export function nextTokenLoss<F extends FloatArray>(backend: ComputeBackend<F>, spec: ModelSpec, params: F, batch: Batch<F>): LossResult {
  if (spec.output !== 'sequence') return evaluateLoss(backend, spec, params, batch);
  const { classes, ...inputs } = batch;
  const { B, T } = batch;
  if (spec.head.kind !== 'classification' || classes === undefined || classes.length !== B) {
    throw new RangeError('nextTokenLoss needs a classification head and classes [B]');
  }
  const K = headWidth(spec);
  // The windows alone: a sequence model's batch would otherwise have to carry classes [B*T].
  const logits = forwardLogits(backend, spec, params, inputs);
  let loss = 0;
  for (let b = 0; b < B; b++) {
    const row = logits.subarray((b * T + T - 1) * K, (b * T + T) * K);
    loss += logSumExpOf(row) - row[classes[b]!]!;
  }
  return { loss, count: B };
}

/**
 * batch [B windows of T steps] -> head outputs before any softmax (logits for classification),
 * a new array: [B,K], or [B*T,K] with output 'sequence' (row b*T + t follows timestep t of window b).
 */
export function forwardLogits<F extends FloatArray>(backend: ComputeBackend<F>, spec: ModelSpec, params: F, batch: Batch<F>): F {
  return forwardPass(
    backend,
    spec,
    modelParameters(spec, params),
    batch,
    false,
    new ModelActivations<F>((length) => backend.allocate(length)),
  ).logits;
}

/** Layer n's output [B,T,H_n]; n = -1 names the model's input (the embedded tokens). */
function hiddenName(n: number): string {
  return n < 0 ? 'input' : `hidden.${n}`;
}

/** The gradient w.r.t. hiddenName(n). */
function hiddenGradientName(n: number): string {
  return `d${hiddenName(n)}`;
}

interface ForwardPass<F extends FloatArray> {
  /** One per layer while its backward has not run; null once consumed. */
  readonly caches: (LayerCache | null)[];
  /** What the head read: [B,H] the last layer's hidden state at the last timestep, or [B*T,H] every timestep's ('sequence'). */
  readonly headInput: F;
  /** Head rows: B, or B*T with output 'sequence'. */
  readonly rows: number;
  /** [rows,K] */
  readonly logits: F;
}

// batch -> logits [rows,K]; with training, keeps every layer's cache for the backward.
function forwardPass<F extends FloatArray>(
  backend: ComputeBackend<F>,
  spec: ModelSpec,
  weights: ModelParameters<F>,
  batch: Batch<F>,
  training: boolean,
  activations: ModelActivations<F>,
): ForwardPass<F> {
  const { B, T } = checkBatch(spec, batch);
  const caches: (LayerCache | null)[] = [];
  try {
    let x = batch.features!;
    if (spec.input.kind === 'tokens') {
      x = activations.array(hiddenName(-1), B * T * spec.input.embedding);
      backend.embeddingForward(batch.tokens!, weights.embedding!, spec.input.embedding, x);
    }
    spec.layers.forEach((H, n) => {
      const hidden = activations.array(hiddenName(n), B * T * H);
      const cache = backend.lstmForward(layerShape(spec, n, B, T), x, weights.layers[n]!, training, hidden);
      caches.push(training ? cache : null);
      if (!training) backend.release(cache);
      x = hidden;
    });
    const H = lastLayerUnits(spec);
    const K = headWidth(spec);
    const rows = B * predictionsPerWindow(spec, T);
    let headInput = x;
    if (spec.output !== 'sequence') {
      headInput = activations.array('lastHidden', B * H);
      for (let b = 0; b < B; b++) headInput.set(x.subarray((b * T + T - 1) * H, (b * T + T) * H), b * H);
    }
    const logits = activations.array('logits', rows * K);
    backend.denseForward({ B: rows, H, K }, headInput, weights.denseKernel, weights.denseBias, logits);
    return { caches, headInput, rows, logits };
  } catch (error) {
    releaseAll(backend, caches);
    throw error;
  }
}

// logits [B,K] (B = rows: windows, or positions with 'sequence') -> summed loss; when
// dLogits [B,K] is given, writes d(loss)/d(logits) into it.
function headLoss<F extends FloatArray>(spec: ModelSpec, logits: F, B: number, batch: Batch<F>, dLogits: F | null): number {
  const K = headWidth(spec);
  let loss = 0;
  if (spec.head.kind === 'regression') {
    const targets = batch.targets;
    if (!targets) throw new RangeError('batch: a regression head needs targets [B,K]');
    for (let r = 0; r < B * K; r++) {
      const error = logits[r]! - targets[r]!;
      loss += (error * error) / K;
      if (dLogits) dLogits[r] = (2 * error) / K;
    }
    return loss;
  }
  const classes = batch.classes;
  if (!classes) throw new RangeError(`batch: a classification head needs classes ${spec.output === 'sequence' ? '[B*T]' : '[B]'}`);
  for (let b = 0; b < B; b++) {
    const row = logits.subarray(b * K, (b + 1) * K);
    const target = classes[b]!;
    const logSumExp = logSumExpOf(row);
    loss += logSumExp - row[target]!;
    if (dLogits) {
      for (let k = 0; k < K; k++) dLogits[b * K + k] = Math.exp(row[k]! - logSumExp) - (k === target ? 1 : 0);
    }
  }
  return loss;
}

/** log(sum(exp(row))) without overflow: shifted by the row's maximum. */
function logSumExpOf(row: FloatArray): number {
  let max = -Infinity;
  for (let k = 0; k < row.length; k++) max = Math.max(max, row[k]!);
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let k = 0; k < row.length; k++) sum += Math.exp(row[k]! - max);
  return max + Math.log(sum);
}

/** Layer n's (0-based) shape: it reads I (or E) for n = 0, else the H of layer n - 1. */
function layerShape(spec: ModelSpec, n: number, B: number, T: number): LstmShape {
  return { B, T, I: n === 0 ? inputWidth(spec) : spec.layers[n - 1]!, H: spec.layers[n]! };
}

function releaseAll<F extends FloatArray>(backend: ComputeBackend<F>, caches: (LayerCache | null)[]): void {
  caches.forEach((cache, n) => {
    if (cache) backend.release(cache);
    caches[n] = null;
  });
}

/** Checks every array of the batch against its shape for this spec; errors name the field. */
function checkBatch<F extends FloatArray>(spec: ModelSpec, batch: Batch<F>): { B: number; T: number } {
  const { B, T } = batch;
  if (!Number.isInteger(B) || B < 1) throw new RangeError(`batch.B must be a positive integer, got ${B}`);
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`batch.T must be a positive integer, got ${T}`);
  const expect = (field: string, array: ArrayLike<number> | undefined, length: number, shape: string): void => {
    if (!array) throw new RangeError(`batch.${field} ${shape} is required for this model`);
    if (array.length !== length) throw new RangeError(`batch.${field} must be ${shape} = ${length} elements, got ${array.length}`);
  };
  if (spec.input.kind === 'features')
    expect('features', batch.features, B * T * spec.input.size, `[B,T,I] = [${B},${T},${spec.input.size}]`);
  else expect('tokens', batch.tokens, B * T, `[B*T] = [${B * T}]`);
  const K = headWidth(spec);
  if (spec.output === 'sequence' && spec.head.kind !== 'classification')
    throw new RangeError("output 'sequence' takes a classification head");
  if (batch.targets) expect('targets', batch.targets, B * K, `[B,K] = [${B},${K}]`);
  if (batch.classes) {
    const rows = B * predictionsPerWindow(spec, T);
    expect('classes', batch.classes, rows, spec.output === 'sequence' ? `[B*T] = [${rows}]` : `[B] = [${B}]`);
    batch.classes.forEach((value, b) => {
      if (value < 0 || value >= K) throw new RangeError(`batch.classes[${b}] = ${value} is outside [0, ${K})`);
    });
  }
  return { B, T };
}

/**
 * A text batch of windows with horizon 1 (tokens [B*T], classes [B]: the token after each
 * window) -> the same windows with the class after every timestep, classes [B*T], for a
 * model with output 'sequence': the token at t + 1, and the window's own class after t = T-1.
 * A 'last' model's batch is returned as it is.
 */
export function batchForOutput<F extends FloatArray>(spec: ModelSpec, batch: Batch<F>): Batch<F> {
  const { B, T, tokens, classes } = batch;
  if (spec.output !== 'sequence' || tokens === undefined || classes === undefined || classes.length !== B) return batch;
  const sequence = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    sequence.set(tokens.subarray(b * T + 1, (b + 1) * T), b * T);
    sequence[b * T + T - 1] = classes[b]!;
  }
  return { ...batch, classes: sequence };
}
