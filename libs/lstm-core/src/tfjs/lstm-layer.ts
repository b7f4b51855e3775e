// One LSTM layer over all timesteps on tfjs-core, with explicit BPTT (no autodiff).
//
// Where the time goes and why the code looks like this (see docs/benchmarks.md):
// - The big products run in tfjs: the input projection of all timesteps is one matMul
//   [T*B, I] x [I, 4H]; dW, dU and dX are one matMul each over all timesteps; only the
//   recurrent h_{t-1} x U runs per step (forward and backward).
// - Activations live in JS Float32Arrays, time-major [T, B, ...], so that one timestep is a
//   contiguous block that uploads without slicing a tensor (slicing copies on wasm).
// - One wasm sigmoid call covers all four gates: the cell-gate columns of W, U and b are
//   doubled (exact in floating point) so that g = tanh(z) = 2 * sigmoid(2z) - 1, and
//   tanh(c) comes from a second sigmoid of 2c. JS exp/tanh cost ~10x the wasm sigmoid.
// - No transposeA/transposeB (off the fast path on wasm): transposed copies are made in JS,
//   and the large freshly computed matrix is the left operand (wasm repacks the right one).
// - Every tensor is disposed before the function returns; tf.tidy is the safety net when
//   something throws half-way.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerCache, LstmForwardResult, LstmGradients, LstmShape, LstmWeights } from '../backend';
import { checkLength, matMulOf, readFloat32, sigmoidOf, transposed } from './tensor-io';

/** The activations a training forward keeps for the backward, all time-major. */
interface LstmActivations {
  /** x as [T, B, I]. */
  readonly inputs: Float32Array;
  /** [(T+1), B, H]: block 0 is h_{-1} = 0, block t+1 is h_t, so h_{t-1} for all t is one view. */
  readonly hiddenWithInitial: Float32Array;
  /** Per timestep [B, 4H]: sigmoid(z_i), sigmoid(z_f), g = tanh(z_c), sigmoid(z_o). */
  readonly gates: Float32Array[];
  /** c_t as [T, B, H]. */
  readonly cells: Float32Array;
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
  const out = Float32Array.from(w);
  for (let r = 0; r < rows; r++) {
    const start = r * G + 2 * H;
    for (let j = start; j < start + H; j++) out[j] = 2 * out[j]!;
  }
  return out;
}

/** [B, T, D] <-> [T, B, D]: swaps the two leading axes by whole rows of D. */
function swapLeadingAxes(a: Float32Array, first: number, second: number, D: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < first; i++) {
    for (let k = 0; k < second; k++) {
      const from = (i * second + k) * D;
      out.set(a.subarray(from, from + D), (k * first + i) * D);
    }
  }
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
  const G = 4 * H;
  const BH = B * H;
  checkLength('lstm input [B,T,I]', x, B * T * I);
  checkWeights(shape, weights);

  const inputs = swapLeadingAxes(x, B, T, I);
  const hiddenWithInitial = new Float32Array((T + 1) * BH);
  const cells = new Float32Array(T * BH);
  const cellTanh = new Float32Array(T * BH);
  const gates: Float32Array[] = [];
  const doubledCell = new Float32Array(BH);
  const hidden = new Float32Array(B * T * H);

  tf.tidy(() => {
    // Input projection of every timestep at once: [T*B, I] x [I, 4H] + b.
    const inputTensor = tf.tensor2d(inputs, [T * B, I]);
    const kernelTensor = tf.tensor2d(withCellGateDoubled(weights.kernel, I, H), [I, G]);
    const biasTensor = tf.tensor1d(withCellGateDoubled(weights.bias, 1, H));
    const projectionTensor = tf.fused.matMul({ a: inputTensor, b: kernelTensor, bias: biasTensor });
    const projection = readFloat32(projectionTensor);
    tf.dispose([inputTensor, kernelTensor, biasTensor, projectionTensor]);

    // Kept for all timesteps: wasm packs a matMul's right operand once per tensor.
    const recurrentTensor = tf.tensor2d(withCellGateDoubled(weights.recurrentKernel, H, H), [H, G]);
    for (let t = 0; t < T; t++) {
      const projected = projection.subarray(t * B * G, (t + 1) * B * G);
      let gateValues: Float32Array;
      if (t === 0) {
        gateValues = sigmoidOf(projected, B, G); // h_{-1} = 0: no recurrent product
      } else {
        const previous = tf.tensor2d(hiddenWithInitial.subarray(t * BH, (t + 1) * BH), [B, H]);
        const recurrent = tf.matMul(previous, recurrentTensor);
        const projectedTensor = tf.tensor2d(projected, [B, G]);
        const preActivation = tf.add(recurrent, projectedTensor);
        const activated = tf.sigmoid(preActivation);
        gateValues = readFloat32(activated);
        tf.dispose([previous, recurrent, projectedTensor, preActivation, activated]);
      }

      const cellOffset = t * BH;
      for (let b = 0; b < B; b++) {
        const row = b * G;
        const cellRow = cellOffset + b * H;
        for (let j = 0; j < H; j++) {
          const g = 2 * gateValues[row + 2 * H + j]! - 1;
          gateValues[row + 2 * H + j] = g;
          const previousCell = t === 0 ? 0 : cells[cellRow - BH + j]!;
          const c = gateValues[row + H + j]! * previousCell + gateValues[row + j]! * g;
          cells[cellRow + j] = c;
          doubledCell[b * H + j] = 2 * c;
        }
      }
      gates.push(gateValues);

      const cellSigmoid = sigmoidOf(doubledCell, B, H);
      const hiddenOffset = (t + 1) * BH;
      for (let b = 0; b < B; b++) {
        const row = b * G + 3 * H;
        const outRow = (b * T + t) * H;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const tanhC = 2 * cellSigmoid[k]! - 1;
          cellTanh[cellOffset + k] = tanhC;
          const h = gateValues[row + j]! * tanhC;
          hiddenWithInitial[hiddenOffset + k] = h;
          hidden[outRow + j] = h;
        }
      }
    }
    recurrentTensor.dispose();
  });

  const activations = training ? { inputs, hiddenWithInitial, cells, cellTanh, gates } : null;
  return { hidden, cache: new TfjsLstmCache(owner, shape, activations) };
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
  const BH = B * H;
  const TB = T * B;
  checkLength('lstm dHidden [B,T,H]', dHidden, B * T * H);
  checkWeights(shape, weights);
  checkLength('lstm dKernel [I,4H]', grads.dKernel, I * G);
  checkLength('lstm dRecurrentKernel [H,4H]', grads.dRecurrentKernel, H * G);
  checkLength('lstm dBias [4H]', grads.dBias, G);

  // Pre-activation gradients twice: [T*B, 4H] for dX and [4H, T*B] for dW and dU, so each
  // product has its large operand on the left and needs no transpose flag.
  const dPre = new Float32Array(TB * G);
  const dPreTransposed = new Float32Array(G * TB);
  const biasSum = new Float64Array(G);
  const dCellNext = new Float32Array(BH);
  let dHiddenRecurrent: Float32Array = new Float32Array(BH);

  let dInputs: Float32Array | null = null;
  tf.tidy(() => {
    const recurrentTransposed = tf.tensor2d(transposed(weights.recurrentKernel, H, G), [G, H]);
    for (let t = T - 1; t >= 0; t--) {
      const gateValues = acts.gates[t]!;
      const cellOffset = t * BH;
      const stepOffset = t * B * G;
      for (let b = 0; b < B; b++) {
        const row = b * G;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const dh = dHidden[(b * T + t) * H + j]! + dHiddenRecurrent[k]!;
          const inputGate = gateValues[row + j]!;
          const forgetGate = gateValues[row + H + j]!;
          const cellGate = gateValues[row + 2 * H + j]!;
          const outputGate = gateValues[row + 3 * H + j]!;
          const tanhC = acts.cellTanh[cellOffset + k]!;
          const previousCell = t === 0 ? 0 : acts.cells[cellOffset - BH + k]!;
          const dc = dCellNext[k]! + dh * outputGate * (1 - tanhC * tanhC);
          dCellNext[k] = dc * forgetGate;
          const at = stepOffset + row + j;
          dPre[at] = dc * cellGate * inputGate * (1 - inputGate);
          dPre[at + H] = dc * previousCell * forgetGate * (1 - forgetGate);
          dPre[at + 2 * H] = dc * inputGate * (1 - cellGate * cellGate);
          dPre[at + 3 * H] = dh * tanhC * outputGate * (1 - outputGate);
        }
      }
      // Column block t of the transposed copy, and the bias sum (float64: T*B terms).
      for (let g = 0; g < G; g++) {
        const to = g * TB + t * B;
        let sum = 0;
        for (let b = 0; b < B; b++) {
          const v = dPre[stepOffset + b * G + g]!;
          dPreTransposed[to + b] = v;
          sum += v;
        }
        biasSum[g] = biasSum[g]! + sum;
      }
      if (t > 0) {
        // dh_{t-1} = dz_t x U^T
        const stepTensor = tf.tensor2d(dPre.subarray(stepOffset, stepOffset + B * G), [B, G]);
        const product = tf.matMul(stepTensor, recurrentTransposed);
        dHiddenRecurrent = readFloat32(product);
        tf.dispose([stepTensor, product]);
      }
    }
    recurrentTransposed.dispose();

    // dW^T = dZ^T x X and dU^T = dZ^T x H_{t-1}, over all timesteps at once.
    const dPreTransposedTensor = tf.tensor2d(dPreTransposed, [G, TB]);
    const inputTensor = tf.tensor2d(acts.inputs, [TB, I]);
    const kernelProduct = tf.matMul(dPreTransposedTensor, inputTensor);
    addTransposed(readFloat32(kernelProduct), G, I, grads.dKernel);
    tf.dispose([inputTensor, kernelProduct]);
    const previousHidden = tf.tensor2d(acts.hiddenWithInitial.subarray(0, TB * H), [TB, H]);
    const recurrentProduct = tf.matMul(dPreTransposedTensor, previousHidden);
    addTransposed(readFloat32(recurrentProduct), G, H, grads.dRecurrentKernel);
    tf.dispose([dPreTransposedTensor, previousHidden, recurrentProduct]);

    if (wantInputGradient) {
      // dX = dZ x W^T, then back to batch-major.
      const product = matMulOf(dPre, TB, G, transposed(weights.kernel, I, G), I);
      dInputs = swapLeadingAxes(product, T, B, I);
    }
  });
  for (let g = 0; g < G; g++) grads.dBias[g] = grads.dBias[g]! + biasSum[g]!;
  return dInputs;
}

/** into [cols, rows] += productTransposed [rows, cols]^T. */
function addTransposed(productTransposed: Float32Array, rows: number, cols: number, into: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const at = c * rows + r;
      into[at] = into[at]! + productTransposed[r * cols + c]!;
    }
  }
}
