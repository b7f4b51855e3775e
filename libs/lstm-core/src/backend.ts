// The compute backend interface: whole layers, not single tensor ops, so that a native
// library (oneDNN) can take an LSTM layer's forward over all timesteps and its backward
// whole. Shapes use one key: B batch, T time, I input, H hidden, E embedding, V vocabulary,
// K head outputs. All arrays are row-major; gate blocks inside 4H are ordered i, f, c, o.
//
// Gradients accumulate: a backward adds into the `d`-named arrays it is given (the caller
// zeroes them once per batch). Backwards never allocate parameter-sized arrays.

/** Float storage a backend computes in. tfjs backends use Float32Array; the reference
 * backend also runs in Float64Array for finite-difference gradient checks. */
export type FloatArray = Float32Array | Float64Array;

export interface LstmShape {
  readonly B: number;
  readonly T: number;
  readonly I: number;
  readonly H: number;
}

export interface LstmWeights<F extends FloatArray = FloatArray> {
  /** [I, 4H] */
  readonly kernel: F;
  /** [H, 4H] */
  readonly recurrentKernel: F;
  /** [4H] */
  readonly bias: F;
}

export interface LstmGradients<F extends FloatArray = FloatArray> {
  /** [I, 4H], accumulated into */
  readonly dKernel: F;
  /** [H, 4H], accumulated into */
  readonly dRecurrentKernel: F;
  /** [4H], accumulated into */
  readonly dBias: F;
}

/** What a layer's forward keeps for its backward. Opaque to callers; release() frees it. */
export interface LayerCache {
  readonly kind: string;
}

export interface LstmForwardResult<F extends FloatArray = FloatArray> {
  /** Hidden states of every timestep, [B, T, H]. h_0 = c_0 = 0 for every window. */
  readonly hidden: F;
  readonly cache: LayerCache;
}

export interface DenseShape {
  readonly B: number;
  readonly H: number;
  readonly K: number;
}

export interface ComputeBackend<F extends FloatArray = Float32Array> {
  /** Registry name: 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu', 'reference', ... */
  readonly name: string;
  /** One line for logs: what runs the math (package, version, threads). */
  readonly description: string;
  /** Allocates a zeroed array of this backend's float type. */
  allocate(length: number): F;

  /** x [B,T,I] -> hidden [B,T,H]. */
  lstmForward(shape: LstmShape, x: F, weights: LstmWeights<F>, training: boolean): LstmForwardResult<F>;
  /**
   * dHidden [B,T,H] (gradient of the loss w.r.t. every hidden state this layer emitted)
   * -> dX [B,T,I] when wantInputGradient, else null. Adds the weight gradients into grads.
   * Releases the cache.
   */
  lstmBackward(
    shape: LstmShape,
    cache: LayerCache,
    dHidden: F,
    weights: LstmWeights<F>,
    grads: LstmGradients<F>,
    wantInputGradient: boolean,
  ): F | null;

  /** h [B,H] x kernel [H,K] + bias [K] -> y [B,K]. */
  denseForward(shape: DenseShape, h: F, kernel: F, bias: F): F;
  /** dY [B,K] -> dH [B,H]; adds into dKernel [H,K] and dBias [K]. */
  denseBackward(shape: DenseShape, h: F, dY: F, kernel: F, dKernel: F, dBias: F): F;

  /** tokens [B*T] (ids < V), table [V,E] -> x [B,T,E]. */
  embeddingForward(tokens: Int32Array, table: F, E: number): F;
  /** Scatter-add of dX [B,T,E] into dTable [V,E] at the rows named by tokens. */
  embeddingBackward(tokens: Int32Array, dX: F, dTable: F, E: number): void;

  /** Frees a forward cache without running the backward (inference, failed steps). */
  release(cache: LayerCache): void;
  /** Frees everything the backend holds. Idempotent. */
  dispose(): void;
}
