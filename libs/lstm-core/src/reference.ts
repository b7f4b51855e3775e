// The reference compute backend: plain TypeScript loops over typed arrays, generic over the
// float type so that it runs in float64 for finite-difference gradient checks (the ground
// truth every other backend is compared with) and in float32 like the tfjs backends.
// Every loop streams memory row by row (i-k-j order for products, dot products along rows
// for products with a transposed operand); nothing here allocates per timestep.

import type {
  ComputeBackend,
  DenseShape,
  FloatArray,
  LayerCache,
  LstmForwardResult,
  LstmGradients,
  LstmShape,
  LstmWeights,
} from './backend';

export type ReferencePrecision = 'float32' | 'float64';

export function createReferenceBackend(precision: 'float64'): ComputeBackend<Float64Array>;
export function createReferenceBackend(precision?: 'float32'): ComputeBackend<Float32Array>;
export function createReferenceBackend(precision: ReferencePrecision = 'float32'): ComputeBackend<Float32Array> | ComputeBackend<Float64Array> {
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
    /** [B,T,4H] gate activations i, f, g, o */
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

  constructor(
    precision: ReferencePrecision,
    readonly allocate: (length: number) => F,
  ) {
    this.description = `reference: TypeScript loops in ${precision}`;
  }

  // x [B,T,I] -> hidden [B,T,H]; caches gate activations and cells for the backward.
  lstmForward(shape: LstmShape, x: F, weights: LstmWeights<F>, training: boolean): LstmForwardResult<F> {
    const { B, T, I, H } = shape;
    checkLength('lstmForward x', x, B * T * I);
    checkLstmWeights(shape, weights);
    const G = 4 * H;
    const { kernel, recurrentKernel, bias } = weights;
    const gates = this.allocate(B * T * G);
    const cells = this.allocate(B * T * H);
    const cellTanh = this.allocate(B * T * H);
    const hidden = this.allocate(B * T * H);

    // Input projection of all timesteps at once: gates[r,:] = bias + x[r,:] kernel.
    for (let row = 0; row < B * T; row++) {
      const zo = row * G;
      gates.set(bias, zo);
      for (let i = 0; i < I; i++) {
        const xv = x[row * I + i]!;
        const wo = i * G;
        for (let j = 0; j < G; j++) gates[zo + j] = gates[zo + j]! + xv * kernel[wo + j]!;
      }
    }

    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const row = b * T + t;
        const zo = row * G;
        const co = row * H;
        if (t > 0) {
          // h_{t-1} U, skipped at t = 0 where h_0 = 0.
          const ho = co - H;
          for (let k = 0; k < H; k++) {
            const hv = hidden[ho + k]!;
            const uo = k * G;
            for (let j = 0; j < G; j++) gates[zo + j] = gates[zo + j]! + hv * recurrentKernel[uo + j]!;
          }
        }
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
    const cache: ReferenceLstmCache<F> = { kind: 'reference-lstm', arrays: training ? { x, gates, cells, cellTanh, hidden } : null };
    return { hidden, cache };
  }

  // dHidden [B,T,H] -> dX [B,T,I] (or null); adds dKernel [I,4H], dRecurrentKernel [H,4H], dBias [4H].
  lstmBackward(
    shape: LstmShape,
    cache: LayerCache,
    dHidden: F,
    weights: LstmWeights<F>,
    grads: LstmGradients<F>,
    wantInputGradient: boolean,
  ): F | null {
    const { B, T, I, H } = shape;
    const arrays = takeLstmCache<F>(cache);
    checkLength('lstmBackward dHidden', dHidden, B * T * H);
    checkLstmWeights(shape, weights);
    checkLength('lstmBackward dKernel', grads.dKernel, I * 4 * H);
    checkLength('lstmBackward dRecurrentKernel', grads.dRecurrentKernel, H * 4 * H);
    checkLength('lstmBackward dBias', grads.dBias, 4 * H);
    checkLength('lstmBackward cached x', arrays.x, B * T * I);
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
        // dh_{t-1} = dPre_t U^T: a dot product along each row of U.
        if (t > 0) {
          for (let k = 0; k < H; k++) {
            const uo = k * G;
            let sum = 0;
            for (let j = 0; j < G; j++) sum += dPre[zo + j]! * recurrentKernel[uo + j]!;
            dHiddenNext[so + k] = sum;
          }
        }
      }
    }

    // Weight gradients over all timesteps at once: dKernel += x^T dPre, dRecurrentKernel +=
    // h_{t-1}^T dPre (h_0 = 0 contributes nothing), dBias += column sums of dPre.
    for (let row = 0; row < B * T; row++) {
      const zo = row * G;
      for (let j = 0; j < G; j++) dBias[j] = dBias[j]! + dPre[zo + j]!;
      for (let i = 0; i < I; i++) {
        const xv = x[row * I + i]!;
        const wo = i * G;
        for (let j = 0; j < G; j++) dKernel[wo + j] = dKernel[wo + j]! + xv * dPre[zo + j]!;
      }
      if (row % T === 0) continue;
      const ho = (row - 1) * H;
      for (let k = 0; k < H; k++) {
        const hv = hidden[ho + k]!;
        const uo = k * G;
        for (let j = 0; j < G; j++) dRecurrentKernel[uo + j] = dRecurrentKernel[uo + j]! + hv * dPre[zo + j]!;
      }
    }
    if (!wantInputGradient) return null;

    // dX = dPre kernel^T, again dot products along the rows of the kernel.
    const dX = this.allocate(B * T * I);
    for (let row = 0; row < B * T; row++) {
      const zo = row * G;
      for (let i = 0; i < I; i++) {
        const wo = i * G;
        let sum = 0;
        for (let j = 0; j < G; j++) sum += dPre[zo + j]! * kernel[wo + j]!;
        dX[row * I + i] = sum;
      }
    }
    return dX;
  }

  // h [B,H] kernel [H,K] bias [K] -> y [B,K]
  denseForward(shape: DenseShape, h: F, kernel: F, bias: F): F {
    const { B, H, K } = shape;
    checkLength('denseForward h', h, B * H);
    checkLength('denseForward kernel', kernel, H * K);
    checkLength('denseForward bias', bias, K);
    const y = this.allocate(B * K);
    for (let b = 0; b < B; b++) {
      y.set(bias, b * K);
      for (let k = 0; k < H; k++) {
        const hv = h[b * H + k]!;
        const wo = k * K;
        for (let j = 0; j < K; j++) y[b * K + j] = y[b * K + j]! + hv * kernel[wo + j]!;
      }
    }
    return y;
  }

  // dY [B,K] -> dH [B,H]; dKernel [H,K] += h^T dY; dBias [K] += column sums of dY.
  denseBackward(shape: DenseShape, h: F, dY: F, kernel: F, dKernel: F, dBias: F): F {
    const { B, H, K } = shape;
    checkLength('denseBackward h', h, B * H);
    checkLength('denseBackward dY', dY, B * K);
    checkLength('denseBackward kernel', kernel, H * K);
    checkLength('denseBackward dKernel', dKernel, H * K);
    checkLength('denseBackward dBias', dBias, K);
    const dH = this.allocate(B * H);
    for (let b = 0; b < B; b++) {
      const yo = b * K;
      for (let j = 0; j < K; j++) dBias[j] = dBias[j]! + dY[yo + j]!;
      for (let k = 0; k < H; k++) {
        const hv = h[b * H + k]!;
        const wo = k * K;
        let sum = 0;
        for (let j = 0; j < K; j++) {
          const dy = dY[yo + j]!;
          dKernel[wo + j] = dKernel[wo + j]! + hv * dy;
          sum += dy * kernel[wo + j]!;
        }
        dH[b * H + k] = sum;
      }
    }
    return dH;
  }

  // tokens [B*T], table [V,E] -> x [B,T,E]
  embeddingForward(tokens: Int32Array, table: F, E: number): F {
    const V = checkTable(table, E);
    const x = this.allocate(tokens.length * E);
    for (let r = 0; r < tokens.length; r++) {
      const token = checkToken(tokens[r]!, r, V);
      x.set(table.subarray(token * E, (token + 1) * E), r * E);
    }
    return x;
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
    // Nothing outlives a call: caches are plain arrays owned by their callers.
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
  if (!Number.isInteger(E) || E < 1 || table.length % E !== 0) throw new RangeError(`embedding table of ${table.length} elements is not [V, ${E}]`);
  return table.length / E;
}

function checkToken(token: number, position: number, V: number): number {
  if (token < 0 || token >= V) throw new RangeError(`token ${token} at position ${position} is outside the vocabulary [0, ${V})`);
  return token;
}
