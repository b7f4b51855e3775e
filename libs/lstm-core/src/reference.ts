// The reference compute backend: plain TypeScript loops over typed arrays, generic over the
// float type so that it runs in float64 for finite-difference gradient checks (the ground
// truth every other backend is compared with) and in float32 like the tfjs backends.
// Every loop streams memory row by row (i-k-j order for products, dot products along rows
// for products with a transposed operand); nothing here allocates per timestep.

import type { ComputeBackend, DenseShape, FloatArray, LayerCache, LstmGradients, LstmShape, LstmWeights } from './backend';

export type ReferencePrecision = 'float32' | 'float64';

export function createReferenceBackend(precision: 'float64'): ComputeBackend<Float64Array>;
export function createReferenceBackend(precision?: 'float32'): ComputeBackend<Float32Array>;
export function createReferenceBackend(
  precision: ReferencePrecision = 'float32',
): ComputeBackend<Float32Array> | ComputeBackend<Float64Array> {
  return precision === 'float64'
    ? new ReferenceBackend<Float64Array>('float64', (length) => new Float64Array(length))
    : new ReferenceBackend<Float32Array>('float32', (length) => new Float32Array(length));
}

/** What an LSTM forward keeps for BPTT; arrays are dropped on release. */
interface ReferenceLstmCache<F extends FloatArray> extends LayerCache {
  readonly kind: 'reference-lstm';
  arrays: {
    /** [B,T,I] the layer's input */
    readonly x: F;
    /** [B,T,4H] gate activations i, f, c (the candidate), o */
    readonly gates: F;
    /** [B,T,H] cell states */
    readonly cells: F;
    /** [B,T,H] tanh of the cell states */
    readonly cellTanh: F;
    /** [B,T,H] hidden states */
    readonly hidden: F;
  } | null;
}

class ReferenceBackend<F extends FloatArray> implements ComputeBackend<F> {
  readonly name = 'reference';
  readonly description: string;
  readonly numericsBuild: string;

  constructor(
    precision: ReferencePrecision,
    readonly allocate: (length: number) => F,
  ) {
    this.description = `reference: TypeScript loops in ${precision}`;
    this.numericsBuild = `reference ${precision}`;
  }

  // x [B,T,I] -> output [B,T,H]; caches x, gate activations, cells and hidden states for the backward.
  lstmForward(shape: LstmShape, x: F, weights: LstmWeights<F>, training: boolean, output: F): LayerCache {
    const { B, T, I, H } = shape;
    checkLength('lstmForward x', x, B * T * I);
    checkLength('lstmForward hidden', output, B * T * H);
    checkLstmWeights(shape, weights);
    const G = 4 * H;
    const { kernel, recurrentKernel, bias } = weights;
    const gates = this.allocate(B * T * G);
    const cells = this.allocate(B * T * H);
    const cellTanh = this.allocate(B * T * H);
    const hidden = this.allocate(B * T * H);

    // Input projection of all timesteps at once: gates[r,:] = bias + x[r,:] kernel.
    for (let row = 0; row < B * T; row++) {
      gates.set(bias, row * G);
      addVectorTimesMatrix(gates, row * G, x, row * I, kernel, I, G);
    }

    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const zo = row * G;
        const co = row * H;
        // + h_{t-1} U, skipped at t = 0 where h_0 = 0.
        if (t > 0) addVectorTimesMatrix(gates, zo, hidden, co - H, recurrentKernel, H, G);
        for (let k = 0; k < H; k++) {
          const inputGate = sigmoid(gates[zo + k]!);
          const forgetGate = sigmoid(gates[zo + H + k]!);
          const candidate = Math.tanh(gates[zo + 2 * H + k]!);
          const outputGate = sigmoid(gates[zo + 3 * H + k]!);
          gates[zo + k] = inputGate;
          gates[zo + H + k] = forgetGate;
          gates[zo + 2 * H + k] = candidate;
          gates[zo + 3 * H + k] = outputGate;
          const previousCell = t > 0 ? cells[co - H + k]! : 0;
          const cell = forgetGate * previousCell + inputGate * candidate;
          const squashed = Math.tanh(cell);
          cells[co + k] = cell;
          cellTanh[co + k] = squashed;
          hidden[co + k] = outputGate * squashed;
        }
      }
    }
    output.set(hidden);
    const cache: ReferenceLstmCache<F> = {
      kind: 'reference-lstm',
      arrays: training ? { x: x.slice() as F, gates, cells, cellTanh, hidden } : null,
    };
    return cache;
  }

  // dHidden [B,T,H] -> dX [B,T,I] (unless null); adds dKernel [I,4H], dRecurrentKernel [H,4H], dBias [4H].
  lstmBackward(shape: LstmShape, cache: LayerCache, dHidden: F, weights: LstmWeights<F>, grads: LstmGradients<F>, dX: F | null): void {
    const { B, T, I, H } = shape;
    const arrays = takeLstmCache<F>(cache);
    checkLength('lstmBackward dHidden', dHidden, B * T * H);
    checkLstmWeights(shape, weights);
    checkLength('lstmBackward dKernel', grads.dKernel, I * 4 * H);
    checkLength('lstmBackward dRecurrentKernel', grads.dRecurrentKernel, H * 4 * H);
    checkLength('lstmBackward dBias', grads.dBias, 4 * H);
    checkLength('lstmBackward cached x', arrays.x, B * T * I);
    if (dX !== null) checkLength('lstmBackward dX', dX, B * T * I);
    const G = 4 * H;
    const { x, gates, cells, cellTanh, hidden } = arrays;
    const { kernel, recurrentKernel } = weights;
    const { dKernel, dRecurrentKernel, dBias } = grads;
    // dPre [B,T,4H]: gradient w.r.t. the gate pre-activations, kept for the batched weight gradients.
    const dPre = this.allocate(B * T * G);
    // Gradients flowing from step t+1 into h_t and c_t, per window: [B,H] each.
    const dHiddenNext = this.allocate(B * H);
    const dCellNext = this.allocate(B * H);

    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const zo = row * G;
        const co = row * H;
        const so = b * H;
        for (let k = 0; k < H; k++) {
          const dh = dHidden[co + k]! + dHiddenNext[so + k]!;
          const inputGate = gates[zo + k]!;
          const forgetGate = gates[zo + H + k]!;
          const candidate = gates[zo + 2 * H + k]!;
          const outputGate = gates[zo + 3 * H + k]!;
          const squashed = cellTanh[co + k]!;
          const previousCell = t > 0 ? cells[co - H + k]! : 0;
          const dc = dCellNext[so + k]! + dh * outputGate * (1 - squashed * squashed);
          dPre[zo + k] = dc * candidate * inputGate * (1 - inputGate);
          dPre[zo + H + k] = dc * previousCell * forgetGate * (1 - forgetGate);
          dPre[zo + 2 * H + k] = dc * inputGate * (1 - candidate * candidate);
          dPre[zo + 3 * H + k] = dh * squashed * outputGate * (1 - outputGate);
          dCellNext[so + k] = dc * forgetGate;
        }
        // dh_{t-1} = dPre_t U^T
        if (t > 0) setVectorTimesTransposed(dHiddenNext, so, dPre, zo, recurrentKernel, H, G);
      }
    }

    // Weight gradients over all timesteps at once: dKernel += x^T dPre, dRecurrentKernel +=
    // h_{t-1}^T dPre (h_0 = 0 contributes nothing), dBias += column sums of dPre.
    addColumnSums(dBias, dPre, B * T, G);
    addTransposedProduct(dKernel, x, 0, dPre, 0, B * T, I, G);
    for (let b = 0; b < B; b++) addTransposedProduct(dRecurrentKernel, hidden, b * T * H, dPre, (b * T + 1) * G, T - 1, H, G);
    if (dX === null) return;

    // dX = dPre kernel^T
    for (let row = 0; row < B * T; row++) setVectorTimesTransposed(dX, row * I, dPre, row * G, kernel, I, G);
  }

  // h [B,H] kernel [H,K] bias [K] -> y [B,K]
  denseForward(shape: DenseShape, h: F, kernel: F, bias: F, y: F): void {
    const { B, H, K } = shape;
    checkLength('denseForward h', h, B * H);
    checkLength('denseForward kernel', kernel, H * K);
    checkLength('denseForward bias', bias, K);
    checkLength('denseForward y', y, B * K);
    for (let b = 0; b < B; b++) {
      y.set(bias, b * K);
      addVectorTimesMatrix(y, b * K, h, b * H, kernel, H, K);
    }
  }

  // dY [B,K] -> dH [B,H]; dKernel [H,K] += h^T dY; dBias [K] += column sums of dY.
  denseBackward(shape: DenseShape, h: F, dY: F, kernel: F, dKernel: F, dBias: F, dH: F): void {
    const { B, H, K } = shape;
    checkLength('denseBackward h', h, B * H);
    checkLength('denseBackward dY', dY, B * K);
    checkLength('denseBackward kernel', kernel, H * K);
    checkLength('denseBackward dKernel', dKernel, H * K);
    checkLength('denseBackward dBias', dBias, K);
    checkLength('denseBackward dH', dH, B * H);
    addColumnSums(dBias, dY, B, K);
    addTransposedProduct(dKernel, h, 0, dY, 0, B, H, K);
    for (let b = 0; b < B; b++) setVectorTimesTransposed(dH, b * H, dY, b * K, kernel, H, K);
  }

  // tokens [B*T], table [V,E] -> x [B,T,E]
  embeddingForward(tokens: Int32Array, table: F, E: number, x: F): void {
    const V = checkTable(table, E);
    checkLength('embeddingForward x', x, tokens.length * E);
    for (let r = 0; r < tokens.length; r++) {
      const token = checkToken(tokens[r]!, r, V);
      x.set(table.subarray(token * E, (token + 1) * E), r * E);
    }
  }

  // dX [B,T,E] scatter-added into dTable [V,E] at the rows the tokens name.
  embeddingBackward(tokens: Int32Array, dX: F, dTable: F, E: number): void {
    const V = checkTable(dTable, E);
    checkLength('embeddingBackward dX', dX, tokens.length * E);
    for (let r = 0; r < tokens.length; r++) {
      const to = checkToken(tokens[r]!, r, V) * E;
      const xo = r * E;
      for (let e = 0; e < E; e++) dTable[to + e] = dTable[to + e]! + dX[xo + e]!;
    }
  }

  release(cache: LayerCache): void {
    if (isReferenceLstmCache(cache)) cache.arrays = null;
  }

  dispose(): void {
    // Nothing outlives a call: caches are plain arrays that their callers drop.
  }
}

// The products below are the only inner loops with real work. Each is blocked by four
// (four rows of the matrix per pass, or four accumulators), which roughly halves the loads
// and stores per multiply-add; V8 does not vectorise, so this is what "fast" means here.

/** out[oo .. oo+N) += v[vo .. vo+K) W, for W [K,N]. */
function addVectorTimesMatrix(out: FloatArray, oo: number, v: FloatArray, vo: number, W: FloatArray, K: number, N: number): void {
  let k = 0;
  for (; k + 3 < K; k += 4) {
    const v0 = v[vo + k]!;
    const v1 = v[vo + k + 1]!;
    const v2 = v[vo + k + 2]!;
    const v3 = v[vo + k + 3]!;
    const w0 = k * N;
    const w1 = w0 + N;
    const w2 = w1 + N;
    const w3 = w2 + N;
    for (let j = 0; j < N; j++) out[oo + j] = out[oo + j]! + v0 * W[w0 + j]! + v1 * W[w1 + j]! + v2 * W[w2 + j]! + v3 * W[w3 + j]!;
  }
  for (; k < K; k++) {
    const vk = v[vo + k]!;
    const wk = k * N;
    for (let j = 0; j < N; j++) out[oo + j] = out[oo + j]! + vk * W[wk + j]!;
  }
}

/** out[oo + k] = g[go .. go+N) · W[k, :] for k < K, i.e. g W^T for W [K,N]. */
function setVectorTimesTransposed(out: FloatArray, oo: number, g: FloatArray, go: number, W: FloatArray, K: number, N: number): void {
  for (let k = 0; k < K; k++) {
    const wk = k * N;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let j = 0;
    for (; j + 3 < N; j += 4) {
      s0 += g[go + j]! * W[wk + j]!;
      s1 += g[go + j + 1]! * W[wk + j + 1]!;
      s2 += g[go + j + 2]! * W[wk + j + 2]!;
      s3 += g[go + j + 3]! * W[wk + j + 3]!;
    }
    for (; j < N; j++) s0 += g[go + j]! * W[wk + j]!;
    out[oo + k] = s0 + s1 + (s2 + s3);
  }
}

/** dW [K,N] += A^T G over `rows` consecutive rows: A rows [K] from ao, G rows [N] from go. */
function addTransposedProduct(
  dW: FloatArray,
  A: FloatArray,
  ao: number,
  G: FloatArray,
  go: number,
  rows: number,
  K: number,
  N: number,
): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const a = ao + r * K;
    const g0 = go + r * N;
    const g1 = g0 + N;
    const g2 = g1 + N;
    const g3 = g2 + N;
    for (let k = 0; k < K; k++) {
      const a0 = A[a + k]!;
      const a1 = A[a + K + k]!;
      const a2 = A[a + 2 * K + k]!;
      const a3 = A[a + 3 * K + k]!;
      const wk = k * N;
      for (let j = 0; j < N; j++) dW[wk + j] = dW[wk + j]! + a0 * G[g0 + j]! + a1 * G[g1 + j]! + a2 * G[g2 + j]! + a3 * G[g3 + j]!;
    }
  }
  for (; r < rows; r++) {
    const a = ao + r * K;
    const g = go + r * N;
    for (let k = 0; k < K; k++) {
      const ak = A[a + k]!;
      const wk = k * N;
      for (let j = 0; j < N; j++) dW[wk + j] = dW[wk + j]! + ak * G[g + j]!;
    }
  }
}

/** sums [N] += the column sums of M [rows, N]. */
function addColumnSums(sums: FloatArray, M: FloatArray, rows: number, N: number): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < N; j++) sums[j] = sums[j]! + M[r * N + j]!;
  }
}

function sigmoid(value: number): number {
  return 1 / (1 + Math.exp(-value));
}

function isReferenceLstmCache(cache: LayerCache): cache is ReferenceLstmCache<FloatArray> {
  return cache.kind === 'reference-lstm';
}

function takeLstmCache<F extends FloatArray>(cache: LayerCache): NonNullable<ReferenceLstmCache<F>['arrays']> {
  if (!isReferenceLstmCache(cache)) throw new TypeError(`lstmBackward: the cache comes from another backend ('${cache.kind}')`);
  const arrays = cache.arrays;
  if (arrays === null) throw new Error('lstmBackward: the cache was released or made by a forward with training = false');
  cache.arrays = null;
  return arrays as NonNullable<ReferenceLstmCache<F>['arrays']>;
}

function checkLstmWeights(shape: LstmShape, weights: LstmWeights): void {
  const { I, H } = shape;
  checkLength('lstm kernel', weights.kernel, I * 4 * H);
  checkLength('lstm recurrentKernel', weights.recurrentKernel, H * 4 * H);
  checkLength('lstm bias', weights.bias, 4 * H);
}

function checkLength(what: string, array: FloatArray, expected: number): void {
  if (array.length !== expected) throw new RangeError(`${what}: expected ${expected} elements, got ${array.length}`);
}

/** V of a [V,E] table. */
function checkTable(table: FloatArray, E: number): number {
  if (!Number.isInteger(E) || E < 1 || table.length % E !== 0)
    throw new RangeError(`embedding table of ${table.length} elements is not [V, ${E}]`);
  return table.length / E;
}

function checkToken(token: number, position: number, V: number): number {
  if (token < 0 || token >= V) throw new RangeError(`token ${token} at position ${position} is outside the vocabulary [0, ${V})`);
  return token;
}
