// One LSTM layer over all timesteps on tfjs-core, with explicit BPTT (no autodiff).
//
// Where the time goes and why the code looks like this (see docs/benchmarks.md):
// - A wasm call costs far more than its arithmetic at these sizes, so each timestep makes as
//   few as it can. Forward: one fused product sigmoid([x_t, 1, h_{t-1}] x [W; b; U]) gives all
//   four gates (the column of ones brings in the bias); backward: one product
//   dz_t x [U^T | W^T] gives dh_{t-1} and dx_t together. dW, dBias and dU come from one
//   product over all timesteps, dZ^T x [X, 1, H_{t-1}], whose right operand is the very
//   buffer the forward uploaded a step at a time.
// - The fused sigmoid covers the cell gate too: the cell-gate columns of W, U and b are
//   doubled (exact in floating point) so that g = tanh(z) = 2 sigmoid(2z) - 1.
// - The rest of the gate math (cell, tanh(c), h; the BPTT gate gradients; the transpose of
//   dz_t) runs in our own SIMD kernels (gate-kernels.ts), on activations that live in the
//   kernels' memory, time-major [T, B, ...], in a workspace reused from step to step. A
//   timestep is a contiguous block that uploads without slicing a tensor (slicing copies).
// - No transposeA/transposeB (off the fast path on wasm): weights are transposed in JS, and
//   the large freshly computed matrix is the left operand (wasm packs the right one, per
//   tensor).
// - Every tensor is disposed before the function returns; tf.tidy is the safety net when
//   something throws half-way.

import * as tf from '@tensorflow/tfjs-core';
import type { LayerCache, LstmGradients, LstmShape, LstmWeights } from '../backend';
import type { GateWorkspace, GateWorkspacePool } from './gate-kernels';
import { checkLength, readInto } from './tensor-io';

/** The activations a training forward keeps for the backward, all time-major, in a workspace. */
interface LstmActivations {
  readonly workspace: GateWorkspace;
  /**
   * [(T+1), B, I+1+H]: row (t, b) is [x_t, 1, h_{t-1}] for batch row b, with h_{-1} = 0.
   * Blocks 0..T-1 are the forward's per-step left operands and, together, the right operand
   * of the weight gradients; block T holds only h_{T-1}.
   */
  readonly stepInputs: Float32Array;
  /** [T, B, 4H]: sigmoid of z_i, z_f, 2 z_c and z_o; g = tanh(z_c) = 2 sigmoid(2 z_c) - 1. */
  readonly gates: Float32Array;
  /** [(T+1), B, H]: block 0 is 2 c_{-1} = 0, block t+1 is 2 c_t, doubled (exactly) so that
   * a step uploads it as is for sigmoid(2 c_t). */
  readonly doubledCells: Float32Array;
  /** tanh(c_t) as [T, B, H]. */
  readonly cellTanh: Float32Array;
}

/** The backward's buffers, in the same workspace. */
interface LstmBackwardBuffers {
  /** dHidden [B,T,H], copied in. */
  readonly dHidden: Float32Array;
  /** [B, H+I] (or [B,H]): dz_{t+1} x [U^T | W^T], so dh_t from step t+1 in the first H columns. */
  readonly stepProduct: Float32Array;
  /** [B,H]: dc_{t+1} f_{t+1}. */
  readonly dCell: Float32Array;
  /** [B,4H]: the gate pre-activation gradients of one step. */
  readonly dPreStep: Float32Array;
  /** [4H, T*B]: those of all steps, transposed. */
  readonly dPreTransposed: Float32Array;
  /** Room for [U^T | W^T] [4H, H+I] (or U^T [4H,H]), the right operand of a backward step. */
  readonly stepWeights: Float32Array;
  /** Room for [dW; dBias; dU]^T [4H, I+1+H]. */
  readonly weightProduct: Float32Array;
}

export class TfjsLstmCache implements LayerCache {
  readonly kind = 'tfjs-lstm';
  /** null once released, or when the forward ran with training = false. */
  private activations: LstmActivations | null;

  constructor(
    /** The backend that made this cache; another backend must not consume it. */
    readonly owner: object,
    readonly shape: LstmShape,
    activations: LstmActivations | null,
    private readonly pool: GateWorkspacePool,
  ) {
    this.activations = activations;
  }

  /** Runs the backward on the activations, once: the cache is empty afterwards and its workspace back in the pool. */
  consume<R>(backward: (activations: LstmActivations) => R): R {
    const activations = this.activations;
    if (activations === null) throw new Error('lstmBackward: the cache was released or came from a forward with training = false');
    this.activations = null;
    try {
      return backward(activations);
    } finally {
      this.pool.release(activations.workspace);
    }
  }

  release(): void {
    if (this.activations !== null) this.pool.release(this.activations.workspace);
    this.activations = null;
  }
}

function checkWeights(shape: LstmShape, weights: LstmWeights<Float32Array>): void {
  const G = 4 * shape.H;
  checkLength('lstm kernel [I,4H]', weights.kernel, shape.I * G);
  checkLength('lstm recurrent kernel [H,4H]', weights.recurrentKernel, shape.H * G);
  checkLength('lstm bias [4H]', weights.bias, G);
}

/**
 * Float counts of the forward's views (the activations, then the stacked weights), then of
 * the backward's, in the order they are carved. The weights' rearranged copies live in the
 * workspace too: a step allocates no array for them.
 */
function activationLengths({ B, T, I, H }: LstmShape): number[] {
  return [(T + 1) * B * (I + 1 + H), T * B * 4 * H, (T + 1) * B * H, T * B * H, (I + 1 + H) * 4 * H];
}

function backwardLengths({ B, T, I, H }: LstmShape): number[] {
  return [B * T * H, B * (H + I), B * H, B * 4 * H, 4 * H * T * B, 4 * H * (H + I), 4 * H * (I + 1 + H)];
}

/** x [B,T,I] -> rows [x_t, 1, h_{t-1}] of stepInputs [(T+1),B,I+1+H] with h_{-1} = 0; the
 * forward writes the other hidden states, and block T's x columns are never read. */
function fillStepInputs(x: Float32Array, B: number, T: number, I: number, H: number, stepInputs: Float32Array): void {
  const width = I + 1 + H;
  stepInputs.fill(0, 0, B * width);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const from = (b * T + t) * I;
      const to = (t * B + b) * width;
      for (let i = 0; i < I; i++) stepInputs[to + i] = x[from + i]!;
      stepInputs[to + I] = 1;
    }
  }
}

/** into [I+1+H, 4H] = [W; b; U]: the kernel, the bias as row I, then the recurrent kernel,
 * with the cell-gate block (columns 2H..3H) doubled. */
function stackWeights(weights: LstmWeights<Float32Array>, I: number, H: number, into: Float32Array): void {
  const G = 4 * H;
  into.set(weights.kernel);
  into.set(weights.bias, I * G);
  into.set(weights.recurrentKernel, (I + 1) * G);
  for (let r = 0; r < I + 1 + H; r++) {
    const start = r * G + 2 * H;
    for (let j = start; j < start + H; j++) into[j] = 2 * into[j]!;
  }
}

/**
 * x [B,T,I] -> hidden [B,T,H], written into hidden. With training, the cache keeps the
 * activations for the backward (about T*B*(I + 11H) floats, in a workspace that holds the
 * backward's buffers too); without, it keeps nothing.
 */
export function lstmForward(
  owner: object,
  pool: GateWorkspacePool,
  shape: LstmShape,
  x: Float32Array,
  weights: LstmWeights<Float32Array>,
  training: boolean,
  hidden: Float32Array,
): LayerCache {
  const { B, T, I, H } = shape;
  checkLength('lstm input [B,T,I]', x, B * T * I);
  checkLength('lstm hidden [B,T,H]', hidden, B * T * H);
  checkWeights(shape, weights);
  const lengths = activationLengths(shape);
  const workspace = pool.acquire(pool.bytesFor(training ? [...lengths, ...backwardLengths(shape)] : lengths));
  const [stepInputs, gates, doubledCells, cellTanh, stacked] = lengths.map((length) => workspace.floats(length));
  const activations: LstmActivations = {
    workspace,
    stepInputs: stepInputs!,
    gates: gates!,
    doubledCells: doubledCells!,
    cellTanh: cellTanh!,
  };
  fillStepInputs(x, B, T, I, H, activations.stepInputs);
  activations.doubledCells.fill(0, 0, B * H);
  // The hot loop lives in a function of its own: V8 optimises those reliably, not the big
  // closures that tf.tidy would otherwise hold it in.
  tf.tidy(() => {
    forwardAllSteps(shape, weights, activations, stacked!);
  });
  batchMajorHidden(activations.stepInputs, B, T, I, H, hidden);
  if (!training) pool.release(workspace);
  return new TfjsLstmCache(owner, shape, training ? activations : null, pool);
}

// Fills the activations of all T steps.
// stacked [I+1+H, 4H] is room for the stacked weights.
function forwardAllSteps(shape: LstmShape, weights: LstmWeights<Float32Array>, acts: LstmActivations, stacked: Float32Array): void {
  const { B, T, I, H } = shape;
  const width = I + 1 + H;
  const BH = B * H;
  const BG = 4 * BH;
  const { workspace, stepInputs, gates, doubledCells, cellTanh } = acts;
  // Kept for all timesteps: wasm packs a matMul's right operand once per tensor.
  stackWeights(weights, I, H, stacked);
  const stackedTensor = tf.tensor2d(stacked, [width, 4 * H]);
  for (let t = 0; t < T; t++) {
    const stepGates = gates.subarray(t * BG, (t + 1) * BG);
    const cells = doubledCells.subarray((t + 1) * BH, (t + 2) * BH);
    gatesOfStep(stepInputs.subarray(t * B * width, (t + 1) * B * width), stackedTensor, B, width, stepGates);
    workspace.forwardStep(
      rows(stepGates, 4 * H),
      rows(doubledCells.subarray(t * BH, (t + 1) * BH), H),
      rows(cells, H),
      rows(cellTanh.subarray(t * BH, (t + 1) * BH), H),
      rows(stepInputs.subarray((t + 1) * B * width + I + 1), width),
      B,
      H,
    );
  }
  stackedTensor.dispose();
}

/** A view and its row stride, for the gate kernels. */
function rows(view: Float32Array, stride: number): { view: Float32Array; stride: number } {
  return { view, stride };
}

// gateValues [B,4H] = sigmoid([x_t, 1, h_{t-1}] [B,I+1+H] x [W; b; U] [I+1+H,4H]), the
// cell-gate columns doubled.
function gatesOfStep(stepInput: Float32Array, stackedTensor: tf.Tensor2D, B: number, width: number, gateValues: Float32Array): void {
  const input = tf.tensor2d(stepInput, [B, width]);
  const activated = tf.fused.matMul({ a: input, b: stackedTensor, activation: 'sigmoid' });
  readInto(activated, gateValues);
  tf.dispose([input, activated]);
}

/** The hidden states h_0..h_{T-1} out of stepInputs [(T+1),B,I+1+H] into hidden [B,T,H], by
 * whole rows (writing them batch-major from the step loop would stride T*H floats per row). */
function batchMajorHidden(stepInputs: Float32Array, B: number, T: number, I: number, H: number, hidden: Float32Array): void {
  const width = I + 1 + H;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const from = ((t + 1) * B + b) * width + I + 1;
      hidden.set(stepInputs.subarray(from, from + H), (b * T + t) * H);
    }
  }
}

/**
 * dHidden [B,T,H] -> dX [B,T,I], written into dX unless it is null. Adds into dKernel [I,4H],
 * dRecurrentKernel [H,4H] and dBias [4H]. Consumes the cache.
 */
export function lstmBackward(
  owner: object,
  shape: LstmShape,
  cache: LayerCache,
  dHidden: Float32Array,
  weights: LstmWeights<Float32Array>,
  grads: LstmGradients<Float32Array>,
  dX: Float32Array | null,
): void {
  if (!(cache instanceof TfjsLstmCache) || cache.owner !== owner) {
    throw new TypeError(`lstmBackward: the cache (${cache.kind}) was not made by this backend's lstmForward`);
  }
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
  if (dX !== null) checkLength('lstm dX [B,T,I]', dX, B * T * I);
  cache.consume((acts) => {
    const [dHiddenCopy, stepProduct, dCell, dPreStep, dPreTransposed, stepWeights, weightProduct] = backwardLengths(shape).map((length) =>
      acts.workspace.floats(length),
    );
    const buffers: LstmBackwardBuffers = {
      dHidden: dHiddenCopy!,
      stepProduct: stepProduct!,
      dCell: dCell!,
      dPreStep: dPreStep!,
      dPreTransposed: dPreTransposed!,
      stepWeights: stepWeights!,
      weightProduct: weightProduct!,
    };
    buffers.dHidden.set(dHidden);
    tf.tidy(() => {
      backwardAllSteps(shape, acts, buffers, weights, dX);
      weightGradients(shape, acts, buffers, grads);
    });
  });
}

// BPTT from t = T-1 down to 0. Writes dX [B,T,I] (unless null); leaves the pre-activation
// gradients of all steps transposed in buffers.dPreTransposed [4H, T*B], the left operand of
// the weight-gradient product.
// A step's one product dz_t [B,4H] x [U^T | W^T] [4H,H+I] gives dh_{t-1} and dx_t together,
// so dX costs no call of its own. The transposed copy is made by our kernel a step at a time,
// while the step's block is in cache: in tfjs, transposing the steps and joining them cost
// about as much as the rest of the loop.
function backwardAllSteps(
  shape: LstmShape,
  acts: LstmActivations,
  buffers: LstmBackwardBuffers,
  weights: LstmWeights<Float32Array>,
  dInputs: Float32Array | null,
): void {
  const { B, T, I, H } = shape;
  const G = 4 * H;
  const BH = B * H;
  const width = dInputs !== null ? H + I : H;
  const { workspace, gates, cellTanh, doubledCells } = acts;
  const { dHidden, dCell, dPreStep, dPreTransposed } = buffers;
  const stepProduct = buffers.stepProduct.subarray(0, B * width);
  const stepWeightValues = buffers.stepWeights.subarray(0, G * width);
  transposeSideBySide(weights.recurrentKernel, weights.kernel, H, width - H, G, stepWeightValues);
  const stepWeights = tf.tensor2d(stepWeightValues, [G, width]);
  dCell.fill(0);
  stepProduct.fill(0); // dh from step T
  for (let t = T - 1; t >= 0; t--) {
    workspace.gateGradients(
      rows(gates.subarray(t * B * G, (t + 1) * B * G), G),
      rows(cellTanh.subarray(t * BH, (t + 1) * BH), H),
      rows(doubledCells.subarray(t * BH, (t + 1) * BH), H),
      rows(dHidden.subarray(t * H), T * H),
      rows(stepProduct, width),
      rows(dCell, H),
      rows(dPreStep, G),
      B,
      H,
    );
    workspace.transposeInto(dPreStep, B, G, dPreTransposed, T * B, t * B);
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
}

/** u [H,G] and the first I rows of w [>=I,G] -> into [G, H+I] = [u^T | w^T] (I = 0: u^T). */
function transposeSideBySide(u: Float32Array, w: Float32Array, H: number, I: number, G: number, into: Float32Array): void {
  for (let g = 0; g < G; g++) {
    const row = g * (H + I);
    for (let h = 0; h < H; h++) into[row + h] = u[h * G + g]!;
    for (let i = 0; i < I; i++) into[row + H + i] = w[i * G + g]!;
  }
}

// [dW; dBias; dU]^T = dZ^T x [X, 1, H_{t-1}] over all timesteps at once, added transposed
// into dKernel [I,4H], dBias [4H] and dRecurrentKernel [H,4H].
function weightGradients(shape: LstmShape, acts: LstmActivations, buffers: LstmBackwardBuffers, grads: LstmGradients<Float32Array>): void {
  const { B, T, I, H } = shape;
  const G = 4 * H;
  const width = I + 1 + H;
  const dPreTensor = tf.tensor2d(buffers.dPreTransposed, [G, T * B]);
  const stepInputTensor = tf.tensor2d(acts.stepInputs.subarray(0, T * B * width), [T * B, width]);
  const product = tf.matMul(dPreTensor, stepInputTensor);
  const stacked = buffers.weightProduct;
  readInto(product, stacked);
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
