// One LSTM layer over all timesteps on tfjs-core, with explicit BPTT (no autodiff).
//
// Where the time goes and why the code looks like this (see docs/benchmarks.md):
// - The big products run in tfjs: the input projection of all timesteps is one matMul
//   [T*B, I+1] x [I+1, 4H]; dW and dU are one matMul each over all timesteps. Only the
//   recurrent product runs per step: h_{t-1} x U forward, and dz_t x [U^T | W^T] backward,
//   which yields dx_t with dh_{t-1} in the same call (dX needs no product or copy of its
//   own). The input carries a column of ones, so the projection adds the bias and the dW
//   product yields dBias (the sum of the gate gradients over all rows) as its last column.
// - Activations live in JS Float32Arrays, time-major [T, B, ...], so that one timestep is a
//   contiguous block that uploads without slicing a tensor (slicing copies on wasm).
// - One wasm sigmoid call covers all four gates: the cell-gate columns of W, U and b are
//   doubled (exact in floating point) so that g = tanh(z) = 2 * sigmoid(2z) - 1, and
//   tanh(c) comes from a second sigmoid of 2c. JS exp/tanh cost ~10x the wasm sigmoid.
// - No transposeA/transposeB (off the fast path on wasm): weights are transposed in JS, the
//   gate gradients on wasm a step at a time, and the large freshly computed matrix is the
//   left operand (wasm packs the right one, per tensor).
// - Every tensor is disposed before the function returns; tf.tidy is the safety net when
//   something throws half-way.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerCache, LstmForwardResult, LstmGradients, LstmShape, LstmWeights } from '../backend';
import { checkLength, matMulOf, readFloat32, sigmoidOf, tidyReturning, transposed } from './tensor-io';

/** The activations a training forward keeps for the backward, all time-major. */
interface LstmActivations {
  /** x as [T, B, I+1], the last column 1. */
  readonly inputs: Float32Array;
  /** [(T+1), B, H]: block 0 is h_{-1} = 0, block t+1 is h_t, so h_{t-1} for all t is one view. */
  readonly hiddenWithInitial: Float32Array;
  /** Per timestep [B, 4H]: sigmoid of z_i, z_f, 2 z_c and z_o; g = tanh(z_c) = 2 sigmoid(2 z_c) - 1. */
  readonly gates: Float32Array[];
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

/** x [B,T,I] -> [T,B,I+1] with a last column of ones. */
function inputsWithOnes(x: Float32Array, B: number, T: number, I: number): Float32Array {
  const out = new Float32Array(T * B * (I + 1));
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const from = (b * T + t) * I;
      const to = (t * B + b) * (I + 1);
      for (let i = 0; i < I; i++) out[to + i] = x[from + i]!;
      out[to + I] = 1;
    }
  }
  return out;
}

/** [W; b]: kernel [I,4H] with bias [4H] appended as row I. */
function kernelWithBias(weights: LstmWeights<Float32Array>, I: number, H: number): Float32Array {
  const out = new Float32Array((I + 1) * 4 * H);
  out.set(weights.kernel);
  out.set(weights.bias, I * 4 * H);
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
    inputs: inputsWithOnes(x, B, T, I),
    hiddenWithInitial: new Float32Array((T + 1) * B * H),
    gates: [],
    doubledCells: new Float32Array(T * B * H),
    cellTanh: new Float32Array(T * B * H),
  };
  // The hot loops live in small functions of their own: V8 optimises those reliably, not
  // the big closures that tf.tidy would otherwise hold them in.
  tf.tidy(() => {
    forwardAllSteps(shape, weights, activations);
  });
  const hidden = batchMajorHidden(activations.hiddenWithInitial, B, T, H);
  return { hidden, cache: new TfjsLstmCache(owner, shape, training ? activations : null) };
}

// Fills the activations of all T steps.
function forwardAllSteps(shape: LstmShape, weights: LstmWeights<Float32Array>, acts: LstmActivations): void {
  const { B, T, I, H } = shape;
  const G = 4 * H;
  const BH = B * H;
  // Input projection of every timestep at once: [T*B, I+1] x [I+1, 4H] = x W + b.
  const projection = matMulOf(acts.inputs, T * B, I + 1, withCellGateDoubled(kernelWithBias(weights, I, H), I + 1, H), G);

  // Kept for all timesteps: wasm packs a matMul's right operand once per tensor.
  const recurrentTensor = tf.tensor2d(withCellGateDoubled(weights.recurrentKernel, H, H), [H, G]);
  for (let t = 0; t < T; t++) {
    const projected = projection.subarray(t * B * G, (t + 1) * B * G);
    const gateValues =
      t === 0
        ? sigmoidOf(projected, B, G) // h_{-1} = 0: no recurrent product
        : gatesOfStep(acts.hiddenWithInitial.subarray(t * BH, (t + 1) * BH), recurrentTensor, projected, B, H);
    acts.gates.push(gateValues);
    cellStep(gateValues, acts.doubledCells, t, B, H);
    hiddenStep(gateValues, sigmoidOf(acts.doubledCells.subarray(t * BH, (t + 1) * BH), B, H), acts, t, B, H);
  }
  recurrentTensor.dispose();
}

// sigmoid(h_{t-1} [B,H] x U [H,4H] + projected [B,4H]) with the cell-gate columns doubled.
function gatesOfStep(previousHidden: Float32Array, recurrentTensor: tf.Tensor2D, projected: Float32Array, B: number, H: number): Float32Array {
  const previous = tf.tensor2d(previousHidden, [B, H]);
  const recurrent = tf.matMul(previous, recurrentTensor);
  const projectedTensor = tf.tensor2d(projected, [B, 4 * H]);
  const preActivation = tf.add(recurrent, projectedTensor);
  const activated = tf.sigmoid(preActivation);
  const gateValues = readFloat32(activated);
  tf.dispose([previous, recurrent, projectedTensor, preActivation, activated]);
  return gateValues;
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

// tanh(c_t) = 2 sigmoid(2 c_t) - 1 and h_t = o tanh(c_t), into the activations at t.
function hiddenStep(gateValues: Float32Array, cellSigmoid: Float32Array, acts: LstmActivations, t: number, B: number, H: number): void {
  const G = 4 * H;
  const BH = B * H;
  const { cellTanh, hiddenWithInitial } = acts;
  const cellOffset = t * BH;
  const hiddenOffset = (t + 1) * BH;
  for (let b = 0; b < B; b++) {
    const row = b * G + 3 * H;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const tanhC = 2 * cellSigmoid[k]! - 1;
      cellTanh[cellOffset + k] = tanhC;
      hiddenWithInitial[hiddenOffset + k] = gateValues[row + j]! * tanhC;
    }
  }
}

/** hiddenWithInitial [(T+1),B,H] -> h_0..h_{T-1} as [B,T,H], by whole rows (writing it from
 * the step loop would stride T*H floats per row). */
function batchMajorHidden(hiddenWithInitial: Float32Array, B: number, T: number, H: number): Float32Array {
  const hidden = new Float32Array(B * T * H);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const from = ((t + 1) * B + b) * H;
      hidden.set(hiddenWithInitial.subarray(from, from + H), (b * T + t) * H);
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
    dPreTransposed.dispose();
    return dInputs;
  });
}

// BPTT from t = T-1 down to 0. Returns dX [B,T,I] (or null) and the pre-activation gradients
// of all steps as a tensor [4H, T*B], the left operand of the dW and dU products.
// A step's one product dz_t [B,4H] x [U^T | W^T] [4H,H+I] gives dh_{t-1} and dx_t together,
// so dX costs no call of its own and no [T*B,4H] copy of the gradients is kept.
// The transposed copy is made on wasm, a [4H,B] block per step, joined once at the end:
// in JS it would be a strided pass over T*B*4H floats, and then a 4*T*B*4H-byte upload.
function backwardAllSteps(
  shape: LstmShape,
  acts: LstmActivations,
  dHidden: Float32Array,
  weights: LstmWeights<Float32Array>,
  wantInputGradient: boolean,
): { dInputs: Float32Array | null; dPreTransposed: tf.Tensor2D } {
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
  const transposedSteps: tf.Tensor2D[] = [];
  // [B, width]: dh_{t} from step t+1 in the first H columns (zero at t = T-1).
  let stepProduct: Float32Array = new Float32Array(B * width);
  for (let t = T - 1; t >= 0; t--) {
    gateGradientsStep(acts, dHidden, stepProduct, width, dCellNext, dPreStep, t, B, T, H);
    const stepTensor = tf.tensor2d(dPreStep, [B, G]);
    transposedSteps.push(tf.transpose(stepTensor));
    if (t > 0 || dInputs !== null) {
      const product = tf.matMul(stepTensor, stepWeights);
      stepProduct = readFloat32(product);
      product.dispose();
    }
    stepTensor.dispose();
    if (dInputs !== null) {
      for (let b = 0; b < B; b++) dInputs.set(stepProduct.subarray(b * width + H, (b + 1) * width), (b * T + t) * I);
    }
  }
  stepWeights.dispose();
  const dPreTransposed = tf.concat(transposedSteps.reverse(), 1);
  tf.dispose(transposedSteps);
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
  const gateValues = acts.gates[t]!;
  const { doubledCells, cellTanh } = acts;
  const cellOffset = t * BH;
  for (let b = 0; b < B; b++) {
    const row = b * G;
    const dHiddenRow = (b * T + t) * H;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const dh = dHidden[dHiddenRow + j]! + stepProduct[b * width + j]!;
      const inputGate = gateValues[row + j]!;
      const forgetGate = gateValues[row + H + j]!;
      const cellGate = 2 * gateValues[row + 2 * H + j]! - 1;
      const outputGate = gateValues[row + 3 * H + j]!;
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

// [dW; dBias]^T = dZ^T x [X, 1] and dU^T = dZ^T x H_{t-1} over all timesteps at once,
// added transposed into dKernel [I,4H], dBias [4H] and dRecurrentKernel [H,4H].
function weightGradients(shape: LstmShape, acts: LstmActivations, dPreTransposed: tf.Tensor2D, grads: LstmGradients<Float32Array>): void {
  const { B, T, I, H } = shape;
  const G = 4 * H;
  const TB = T * B;
  const inputTensor = tf.tensor2d(acts.inputs, [TB, I + 1]);
  const kernelProduct = tf.matMul(dPreTransposed, inputTensor);
  const kernelAndBias = readFloat32(kernelProduct);
  tf.dispose([inputTensor, kernelProduct]);
  addTransposed(kernelAndBias, G, I, I + 1, grads.dKernel);
  for (let g = 0; g < G; g++) grads.dBias[g] = grads.dBias[g]! + kernelAndBias[g * (I + 1) + I]!;
  const previousHidden = tf.tensor2d(acts.hiddenWithInitial.subarray(0, TB * H), [TB, H]);
  const recurrentProduct = tf.matMul(dPreTransposed, previousHidden);
  addTransposed(readFloat32(recurrentProduct), G, H, H, grads.dRecurrentKernel);
  tf.dispose([previousHidden, recurrentProduct]);
}

/** into [cols, rows] += the first cols columns of product [rows, stride], transposed. */
function addTransposed(product: Float32Array, rows: number, cols: number, stride: number, into: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const at = c * rows + r;
      into[at] = into[at]! + product[r * stride + c]!;
    }
  }
}
