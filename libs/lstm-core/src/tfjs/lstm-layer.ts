// One LSTM layer over all timesteps on tfjs-core, with explicit BPTT (no autodiff).
//
// Where the time goes and why the code looks like this (see docs/benchmarks.md):
// - A wasm call costs far more than its arithmetic at these sizes, so each timestep makes as
//   few as it can. Forward: one fused product sigmoid([x_t, 1, h_{t-1}] x [W; b; U]) gives all
//   four gates (the column of ones brings in the bias); backward: one product
//   dz_t x [U^T | W^T] gives dh_{t-1} and dx_t together. dW, dBias and dU come from one
//   product over all timesteps, dZ^T x [X, 1, H_{t-1}], whose right operand is the very
//   buffer the forward uploaded a step at a time.
// - Activations live in JS Float32Arrays, time-major [T, B, ...], so that one timestep is a
//   contiguous block that uploads without slicing a tensor (slicing copies on wasm).
// - The wasm sigmoid covers the cell gate too: the cell-gate columns of W, U and b are
//   doubled (exact in floating point) so that g = tanh(z) = 2 * sigmoid(2z) - 1, and
//   tanh(c) comes from a second sigmoid of 2c. JS exp/tanh cost ~10x the wasm sigmoid.
// - No transposeA/transposeB (off the fast path on wasm): weights are transposed in JS, the
//   gate gradients on wasm a step at a time, and the large freshly computed matrix is the
//   left operand (wasm packs the right one, per tensor).
// - Every tensor is disposed before the function returns; tf.tidy is the safety net when
//   something throws half-way.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerCache, LstmForwardResult, LstmGradients, LstmShape, LstmWeights } from '../backend';
import { checkLength, readFloat32, readInto, sigmoidInto, tidyReturning, transposeInto, transposed } from './tensor-io';

/** The activations a training forward keeps for the backward, all time-major. */
interface LstmActivations {
  /**
   * [(T+1), B, I+1+H]: row (t, b) is [x_t, 1, h_{t-1}] for batch row b, with h_{-1} = 0.
   * Blocks 0..T-1 are the forward's per-step left operands and, together, the right operand
   * of the weight gradients; block T holds only h_{T-1}.
   */
  readonly stepInputs: Float32Array;
  /** [T, B, 4H]: sigmoid of z_i, z_f, 2 z_c and z_o; g = tanh(z_c) = 2 sigmoid(2 z_c) - 1. */
  readonly gates: Float32Array;
  /** 2 c_t as [T, B, H]: doubled (exactly) so that a step uploads it as is for sigmoid(2 c_t). */
  readonly doubledCells: Float32Array;
  /** tanh(c_t) as [T, B, H]. */
  readonly cellTanh: Float32Array;
}

export class TfjsLstmCache implements LayerCache {
  readonly kind = 'tfjs-lstm';
  /** null once released, or when the forward ran with training = false. */
  activations: LstmActivations | null;

  constructor(
    /** The backend that made this cache; another backend must not consume it. */
    readonly owner: object,
    readonly shape: LstmShape,
    activations: LstmActivations | null,
  ) {
    this.activations = activations;
  }
}

function checkWeights(shape: LstmShape, weights: LstmWeights<Float32Array>): void {
  const G = 4 * shape.H;
  checkLength('lstm kernel [I,4H]', weights.kernel, shape.I * G);
  checkLength('lstm recurrent kernel [H,4H]', weights.recurrentKernel, shape.H * G);
  checkLength('lstm bias [4H]', weights.bias, G);
}

/** w [rows, 4H] -> a copy with the cell-gate block (columns 2H..3H) doubled. */
function withCellGateDoubled(w: Float32Array, rows: number, H: number): Float32Array {
  const G = 4 * H;
  const out = w.slice();
  for (let r = 0; r < rows; r++) {
    const start = r * G + 2 * H;
    for (let j = start; j < start + H; j++) out[j] = 2 * out[j]!;
  }
  return out;
}

/** x [B,T,I] -> [(T+1),B,I+1+H] with rows [x_t, 1, 0]; the forward fills in the hidden states. */
function stepInputsOf(x: Float32Array, B: number, T: number, I: number, H: number): Float32Array {
  const width = I + 1 + H;
  const out = new Float32Array((T + 1) * B * width);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const from = (b * T + t) * I;
      const to = (t * B + b) * width;
      for (let i = 0; i < I; i++) out[to + i] = x[from + i]!;
      out[to + I] = 1;
    }
  }
  return out;
}

/** [W; b; U] as [I+1+H, 4H]: the kernel, the bias as row I, then the recurrent kernel. */
function stackedWeights(weights: LstmWeights<Float32Array>, I: number, H: number): Float32Array {
  const G = 4 * H;
  const out = new Float32Array((I + 1 + H) * G);
  out.set(weights.kernel);
  out.set(weights.bias, I * G);
  out.set(weights.recurrentKernel, (I + 1) * G);
  return out;
}

/**
 * x [B,T,I] -> hidden [B,T,H]. With training, the cache keeps the activations for the
 * backward (about T*B*(I + 7H) floats); without, it keeps nothing.
 */
export function lstmForward(
  owner: object,
  shape: LstmShape,
  x: Float32Array,
  weights: LstmWeights<Float32Array>,
  training: boolean,
): LstmForwardResult<Float32Array> {
  const { B, T, I, H } = shape;
  checkLength('lstm input [B,T,I]', x, B * T * I);
  checkWeights(shape, weights);
  const activations: LstmActivations = {
    stepInputs: stepInputsOf(x, B, T, I, H),
    gates: new Float32Array(T * B * 4 * H),
    doubledCells: new Float32Array(T * B * H),
    cellTanh: new Float32Array(T * B * H),
  };
  // The hot loops live in small functions of their own: V8 optimises those reliably, not
  // the big closures that tf.tidy would otherwise hold them in.
  tf.tidy(() => {
    forwardAllSteps(shape, weights, activations);
  });
  const hidden = batchMajorHidden(activations.stepInputs, B, T, I, H);
  return { hidden, cache: new TfjsLstmCache(owner, shape, training ? activations : null) };
}

// Fills the activations of all T steps.
function forwardAllSteps(shape: LstmShape, weights: LstmWeights<Float32Array>, acts: LstmActivations): void {
  const { B, T, I, H } = shape;
  const width = I + 1 + H;
  const BH = B * H;
  const BG = 4 * BH;
  // Kept for all timesteps: wasm packs a matMul's right operand once per tensor.
  const stackedTensor = tf.tensor2d(withCellGateDoubled(stackedWeights(weights, I, H), width, H), [width, 4 * H]);
  const cellSigmoid = new Float32Array(BH);
  for (let t = 0; t < T; t++) {
    const gateValues = acts.gates.subarray(t * BG, (t + 1) * BG);
    gatesOfStep(acts.stepInputs.subarray(t * B * width, (t + 1) * B * width), stackedTensor, B, width, gateValues);
    cellStep(gateValues, acts.doubledCells, t, B, H);
    sigmoidInto(acts.doubledCells.subarray(t * BH, (t + 1) * BH), B, H, cellSigmoid);
    hiddenStep(gateValues, cellSigmoid, acts, t, shape);
  }
  stackedTensor.dispose();
}

// gateValues [B,4H] = sigmoid([x_t, 1, h_{t-1}] [B,I+1+H] x [W; b; U] [I+1+H,4H]), the
// cell-gate columns doubled.
function gatesOfStep(stepInput: Float32Array, stackedTensor: tf.Tensor2D, B: number, width: number, gateValues: Float32Array): void {
  const input = tf.tensor2d(stepInput, [B, width]);
  const activated = tf.fused.matMul({ a: input, b: stackedTensor, activation: 'sigmoid' });
  readInto(activated, gateValues);
  tf.dispose([input, activated]);
}

// gateValues [B,4H] -> 2 c_t = f (2 c_{t-1}) + 2 i g into doubledCells [T,B,H] at t.
function cellStep(gateValues: Float32Array, doubledCells: Float32Array, t: number, B: number, H: number): void {
  const G = 4 * H;
  const BH = B * H;
  const cellOffset = t * BH;
  for (let b = 0; b < B; b++) {
    const row = b * G;
    const cellRow = cellOffset + b * H;
    for (let j = 0; j < H; j++) {
      const g = 2 * gateValues[row + 2 * H + j]! - 1;
      const previous = t === 0 ? 0 : doubledCells[cellRow - BH + j]!;
      doubledCells[cellRow + j] = gateValues[row + H + j]! * previous + 2 * gateValues[row + j]! * g;
    }
  }
}

// tanh(c_t) = 2 sigmoid(2 c_t) - 1 into cellTanh, and h_t = o tanh(c_t) into the hidden
// columns of stepInputs block t+1.
function hiddenStep(gateValues: Float32Array, cellSigmoid: Float32Array, acts: LstmActivations, t: number, shape: LstmShape): void {
  const { B, I, H } = shape;
  const G = 4 * H;
  const width = I + 1 + H;
  const { cellTanh, stepInputs } = acts;
  const cellOffset = t * B * H;
  for (let b = 0; b < B; b++) {
    const row = b * G + 3 * H;
    const hiddenRow = ((t + 1) * B + b) * width + I + 1;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const tanhC = 2 * cellSigmoid[k]! - 1;
      cellTanh[cellOffset + k] = tanhC;
      stepInputs[hiddenRow + j] = gateValues[row + j]! * tanhC;
    }
  }
}

/** The hidden states h_0..h_{T-1} out of stepInputs [(T+1),B,I+1+H] as [B,T,H], by whole rows
 * (writing them batch-major from the step loop would stride T*H floats per row). */
function batchMajorHidden(stepInputs: Float32Array, B: number, T: number, I: number, H: number): Float32Array {
  const width = I + 1 + H;
  const hidden = new Float32Array(B * T * H);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const from = ((t + 1) * B + b) * width + I + 1;
      hidden.set(stepInputs.subarray(from, from + H), (b * T + t) * H);
    }
  }
  return hidden;
}

/**
 * dHidden [B,T,H] -> dX [B,T,I] (or null). Adds into dKernel [I,4H], dRecurrentKernel [H,4H]
 * and dBias [4H]. Consumes the cache.
 */
export function lstmBackward(
  owner: object,
  shape: LstmShape,
  cache: LayerCache,
  dHidden: Float32Array,
  weights: LstmWeights<Float32Array>,
  grads: LstmGradients<Float32Array>,
  wantInputGradient: boolean,
): Float32Array | null {
  if (!(cache instanceof TfjsLstmCache) || cache.owner !== owner) {
    throw new TypeError(`lstmBackward: the cache (${cache.kind}) was not made by this backend's lstmForward`);
  }
  const acts = cache.activations;
  if (acts === null) throw new Error('lstmBackward: the cache was released or came from a forward with training = false');
  cache.activations = null;
  const { B, T, I, H } = shape;
  if (B !== cache.shape.B || T !== cache.shape.T || I !== cache.shape.I || H !== cache.shape.H) {
    throw new RangeError('lstmBackward: shape differs from the forward that made the cache');
  }
  const G = 4 * H;
  checkLength('lstm dHidden [B,T,H]', dHidden, B * T * H);
  checkWeights(shape, weights);
  checkLength('lstm dKernel [I,4H]', grads.dKernel, I * G);
  checkLength('lstm dRecurrentKernel [H,4H]', grads.dRecurrentKernel, H * G);
  checkLength('lstm dBias [4H]', grads.dBias, G);

  return tidyReturning(() => {
    const { dInputs, dPreTransposed } = backwardAllSteps(shape, acts, dHidden, weights, wantInputGradient);
    weightGradients(shape, acts, dPreTransposed, grads);
    return dInputs;
  });
}

// BPTT from t = T-1 down to 0. Returns dX [B,T,I] (or null) and the pre-activation gradients
// of all steps transposed, [4H, T*B], the left operand of the weight-gradient product.
// A step's one product dz_t [B,4H] x [U^T | W^T] [4H,H+I] gives dh_{t-1} and dx_t together,
// so dX costs no call of its own. The transposed copy is made in JS a step at a time, while
// the step's block is in cache: on wasm, transposing the steps and joining them cost about
// as much as the rest of the loop.
function backwardAllSteps(
  shape: LstmShape,
  acts: LstmActivations,
  dHidden: Float32Array,
  weights: LstmWeights<Float32Array>,
  wantInputGradient: boolean,
): { dInputs: Float32Array | null; dPreTransposed: Float32Array } {
  const { B, T, I, H } = shape;
  const G = 4 * H;
  const width = wantInputGradient ? H + I : H;
  const stepWeights = tf.tensor2d(
    wantInputGradient ? transposedSideBySide(weights.recurrentKernel, weights.kernel, H, I, G) : transposed(weights.recurrentKernel, H, G),
    [G, width],
  );
  const dInputs = wantInputGradient ? new Float32Array(B * T * I) : null;
  const dCellNext = new Float32Array(B * H);
  const dPreStep = new Float32Array(B * G);
  const dPreTransposed = new Float32Array(G * T * B);
  // [B, width]: dh_{t} from step t+1 in the first H columns (zero at t = T-1).
  const stepProduct = new Float32Array(B * width);
  for (let t = T - 1; t >= 0; t--) {
    gateGradientsStep(acts, dHidden, stepProduct, width, dCellNext, dPreStep, t, B, T, H);
    transposeInto(dPreStep, B, G, dPreTransposed, T * B, t * B);
    if (t > 0 || dInputs !== null) {
      const stepTensor = tf.tensor2d(dPreStep, [B, G]);
      const product = tf.matMul(stepTensor, stepWeights);
      readInto(product, stepProduct);
      tf.dispose([stepTensor, product]);
    }
    if (dInputs !== null) {
      for (let b = 0; b < B; b++) dInputs.set(stepProduct.subarray(b * width + H, (b + 1) * width), (b * T + t) * I);
    }
  }
  stepWeights.dispose();
  return { dInputs, dPreTransposed };
}

/** u [H,G] and w [I,G] -> [u^T | w^T] as [G, H+I]. */
function transposedSideBySide(u: Float32Array, w: Float32Array, H: number, I: number, G: number): Float32Array {
  const out = new Float32Array(G * (H + I));
  for (let g = 0; g < G; g++) {
    const row = g * (H + I);
    for (let h = 0; h < H; h++) out[row + h] = u[h * G + g]!;
    for (let i = 0; i < I; i++) out[row + H + i] = w[i * G + g]!;
  }
  return out;
}

// One step of BPTT: dh = dHidden[:,t] + the first H columns of stepProduct [B,width]; the
// gate pre-activation gradients into dPreStep [B,4H]; dCellNext [B,H] becomes dc_{t-1}.
function gateGradientsStep(
  acts: LstmActivations,
  dHidden: Float32Array,
  stepProduct: Float32Array,
  width: number,
  dCellNext: Float32Array,
  dPreStep: Float32Array,
  t: number,
  B: number,
  T: number,
  H: number,
): void {
  const G = 4 * H;
  const BH = B * H;
  const { doubledCells, cellTanh, gates: gateValues } = acts;
  const cellOffset = t * BH;
  const gateOffset = t * B * G;
  for (let b = 0; b < B; b++) {
    const row = b * G;
    const gateRow = gateOffset + row;
    const dHiddenRow = (b * T + t) * H;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const dh = dHidden[dHiddenRow + j]! + stepProduct[b * width + j]!;
      const inputGate = gateValues[gateRow + j]!;
      const forgetGate = gateValues[gateRow + H + j]!;
      const cellGate = 2 * gateValues[gateRow + 2 * H + j]! - 1;
      const outputGate = gateValues[gateRow + 3 * H + j]!;
      const tanhC = cellTanh[cellOffset + k]!;
      const previousCell = t === 0 ? 0 : 0.5 * doubledCells[cellOffset - BH + k]!;
      const dc = dCellNext[k]! + dh * outputGate * (1 - tanhC * tanhC);
      dCellNext[k] = dc * forgetGate;
      const at = row + j;
      dPreStep[at] = dc * cellGate * inputGate * (1 - inputGate);
      dPreStep[at + H] = dc * previousCell * forgetGate * (1 - forgetGate);
      dPreStep[at + 2 * H] = dc * inputGate * (1 - cellGate * cellGate);
      dPreStep[at + 3 * H] = dh * tanhC * outputGate * (1 - outputGate);

    }
  }
}

// [dW; dBias; dU]^T = dZ^T x [X, 1, H_{t-1}] over all timesteps at once, added transposed
// into dKernel [I,4H], dBias [4H] and dRecurrentKernel [H,4H].
function weightGradients(shape: LstmShape, acts: LstmActivations, dPreTransposed: Float32Array, grads: LstmGradients<Float32Array>): void {
  const { B, T, I, H } = shape;
  const G = 4 * H;
  const width = I + 1 + H;
  const dPreTensor = tf.tensor2d(dPreTransposed, [G, T * B]);
  const stepInputTensor = tf.tensor2d(acts.stepInputs.subarray(0, T * B * width), [T * B, width]);
  const product = tf.matMul(dPreTensor, stepInputTensor);
  const stacked = readFloat32(product);
  tf.dispose([dPreTensor, stepInputTensor, product]);
  addTransposed(stacked, G, width, 0, I, grads.dKernel);
  for (let g = 0; g < G; g++) grads.dBias[g] = grads.dBias[g]! + stacked[g * width + I]!;
  addTransposed(stacked, G, width, I + 1, H, grads.dRecurrentKernel);
}

/** into [cols, rows] += columns first..first+cols-1 of product [rows, stride], transposed. */
function addTransposed(product: Float32Array, rows: number, stride: number, first: number, cols: number, into: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const at = c * rows + r;
      into[at] = into[at]! + product[r * stride + first + c]!;
    }
  }
}
