// Fresh weights, drawn from one seeded stream so that a seed fixes every weight. Two schemes
// (the spec's model.init):
//   keras:   glorot uniform kernels, orthogonal recurrent kernels, zero biases with the
//            forget block at 1 (unit_forget_bias), the embedding uniform in [-0.05, 0.05];
//   uniform: PyTorch's defaults: every LSTM weight uniform in +-1/sqrt(H) (its bias is the
//            sum b_ih + b_hh of two such draws, as PyTorch's two biases add), the embedding
//            N(0, 1), the dense kernel and bias uniform in +-1/sqrt(fan_in) (nn.Linear).

import type { FloatArray } from './backend';
import { blockView, findBlock, parameterLayout } from './layout';
import { createRng, type Rng } from './rng';
import { headWidth, inputWidth, lastLayerUnits, type ModelSpec } from './model-spec';

/** A fresh flat parameter buffer for the spec, a pure function of (spec, seed). */
export function initializeParameters(spec: ModelSpec, seed: number): Float32Array {
  const layout = parameterLayout(spec);
  const params = new Float32Array(layout.size);
  const rng = createRng(seed);
  const view = (name: string): Float32Array => blockView(params, findBlock(layout, name));
  if ((spec.init ?? 'keras') === 'uniform') fillPyTorchDefaults(spec, view, rng);
  else fillKerasDefaults(spec, view, rng);
  return params;
}

function fillKerasDefaults(spec: ModelSpec, view: (name: string) => Float32Array, rng: Rng): void {
  if (spec.input.kind === 'tokens') fillUniform(view('embedding/embeddings'), 0.05, rng);
  let width = inputWidth(spec);
  spec.layers.forEach((H, index) => {
    const prefix = `lstm_${index + 1}`;
    fillGlorotUniform(view(`${prefix}/kernel`), width, 4 * H, rng);
    fillOrthogonalRows(view(`${prefix}/recurrent_kernel`), H, 4 * H, rng);
    view(`${prefix}/bias`).fill(1, H, 2 * H); // the f block of i, f, c, o
    width = H;
  });
  fillGlorotUniform(view('dense/kernel'), lastLayerUnits(spec), headWidth(spec), rng);
}

function fillPyTorchDefaults(spec: ModelSpec, view: (name: string) => Float32Array, rng: Rng): void {
  if (spec.input.kind === 'tokens') {
    const embedding = view('embedding/embeddings');
    for (let k = 0; k < embedding.length; k++) embedding[k] = rng.nextNormal();
  }
  spec.layers.forEach((H, index) => {
    const prefix = `lstm_${index + 1}`;
    const limit = 1 / Math.sqrt(H);
    fillUniform(view(`${prefix}/kernel`), limit, rng);
    fillUniform(view(`${prefix}/recurrent_kernel`), limit, rng);
    const bias = view(`${prefix}/bias`);
    for (let k = 0; k < bias.length; k++) bias[k] = (2 * rng.nextFloat() - 1) * limit + (2 * rng.nextFloat() - 1) * limit;
  });
  const fanIn = lastLayerUnits(spec);
  fillUniform(view('dense/kernel'), 1 / Math.sqrt(fanIn), rng);
  fillUniform(view('dense/bias'), 1 / Math.sqrt(fanIn), rng);
}

/**
 * Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?"),
 * in place on Keras-initialised params: in every LSTM layer the forget biases become log(u),
 * u uniform in [1, maxLag - 1], and the input biases their negatives. Units then start out
 * keeping their cell over time scales up to maxLag steps instead of about 1 / (1 - sigmoid(1))
 * = 4, which is what tasks with known long lags (the adding problem) need to leave the
 * initial plateau. A pure function of (params, maxLag, seed).
 */
export function applyChronoInitialization(spec: ModelSpec, params: FloatArray, maxLag: number, seed: number): void {
  if (!Number.isFinite(maxLag) || maxLag < 3) throw new RangeError(`chrono initialisation needs maxLag >= 3, got ${maxLag}`);
  const layout = parameterLayout(spec);
  const rng = createRng(seed);
  spec.layers.forEach((H, index) => {
    const bias = blockView(params, findBlock(layout, `lstm_${index + 1}/bias`)); // [4H]: i, f, c, o
    for (let k = 0; k < H; k++) {
      const forgetBias = Math.log(1 + rng.nextFloat() * (maxLag - 2));
      bias[H + k] = forgetBias;
      bias[k] = -forgetBias;
    }
  });
}

/** out [fanIn, fanOut]: uniform in ±sqrt(6 / (fanIn + fanOut)). */
function fillGlorotUniform(out: FloatArray, fanIn: number, fanOut: number, rng: Rng): void {
  fillUniform(out, Math.sqrt(6 / (fanIn + fanOut)), rng);
}

/** out [n]: uniform in [-limit, limit). */
function fillUniform(out: FloatArray, limit: number, rng: Rng): void {
  for (let k = 0; k < out.length; k++) out[k] = (2 * rng.nextFloat() - 1) * limit;
}

/**
 * out [rows, columns], rows <= columns: a matrix with orthonormal rows, as Keras's
 * Orthogonal initializer makes it (QR of a [columns, rows] standard normal matrix, Q scaled
 * by sign(diag(R)), transposed). The QR whose R has a positive diagonal is unique, and
 * Gram-Schmidt yields exactly that one, so orthonormalising the normal rows in order is the
 * same construction. Each row is orthogonalised twice ("twice is enough") so float64
 * rounding leaves the rows orthonormal to ~1e-15.
 */
function fillOrthogonalRows(out: FloatArray, rows: number, columns: number, rng: Rng): void {
  if (rows > columns) throw new RangeError(`orthogonal rows need rows <= columns, got [${rows}, ${columns}]`);
  const q = new Float64Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    const row = q.subarray(r * columns, (r + 1) * columns);
    for (let c = 0; c < columns; c++) row[c] = rng.nextNormal();
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < r; p++) {
        const previous = q.subarray(p * columns, (p + 1) * columns);
        let dot = 0;
        for (let c = 0; c < columns; c++) dot += row[c]! * previous[c]!;
        for (let c = 0; c < columns; c++) row[c] = row[c]! - dot * previous[c]!;
      }
    }
    let norm = 0;
    for (let c = 0; c < columns; c++) norm += row[c]! * row[c]!;
    norm = Math.sqrt(norm);
    for (let c = 0; c < columns; c++) row[c] = row[c]! / norm;
  }
  out.set(q);
}
