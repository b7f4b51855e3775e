/**
 * The version of lstm-core's own numerics (the layers' math, the WebAssembly gate kernels,
 * the reference loops). Raise it with every change that can change a single bit of a
 * gradient: it is part of every numerics profile's build identity.
 */
export const NUMERICS_VERSION = 1;

// The compute backend interface: whole layers, not single tensor ops, so that a native
// library (oneDNN) can take an LSTM layer's forward over all timesteps and its backward
// whole. Shapes use one key: B batch, T time, I input, H hidden, E embedding, V vocabulary,
// K head outputs. All arrays are row-major; gate blocks inside 4H are ordered i, f, c, o.
//
// Outputs (hidden states, head outputs, input gradients) are written into arrays the caller
// owns, so that a training loop can allocate them once and reuse them (ModelActivations):
// fresh arrays per shard made the garbage collector run a full mark-compact every few shards.
// Parameter gradients accumulate: a backward adds into the `d`-named parameter arrays it is
// given (the caller zeroes them once per batch). Backwards never allocate parameter-sized arrays.

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

/** What a layer's forward keeps for its backward (copies: the caller may reuse its arrays).
 * Opaque to callers; release() frees it. */
export interface LayerCache {
  readonly kind: string;
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
  /**
   * What decides the bits besides lstm-core's own code: the library and version that run
   * the math (e.g. 'tfjs-wasm 4.22.0', 'onednn 2.6.3 addon 1'). Part of the numerics
   * profile's build identity, so that workers of two releases never serve one queue.
   */
  readonly numericsBuild: string;
  /** The instruction set native code is pinned to ('avx512_core'); undefined for the others. */
  readonly isa?: string | undefined;
  /** Allocates a zeroed array of this backend's float type. */
  allocate(length: number): F;

  /** x [B,T,I] -> hidden [B,T,H] (every timestep; h_0 = c_0 = 0 for every window), written into `hidden`. */
  lstmForward(shape: LstmShape, x: F, weights: LstmWeights<F>, training: boolean, hidden: F): LayerCache;
  /**
   * dHidden [B,T,H] (gradient of the loss w.r.t. every hidden state this layer emitted)
   * -> dX [B,T,I], written into `dX` unless it is null (input gradient not wanted). Adds the
   * weight gradients into grads. Releases the cache.
   */
  lstmBackward(shape: LstmShape, cache: LayerCache, dHidden: F, weights: LstmWeights<F>, grads: LstmGradients<F>, dX: F | null): void;

  /** h [B,H] x kernel [H,K] + bias [K] -> y [B,K], written into `y`. */
  denseForward(shape: DenseShape, h: F, kernel: F, bias: F, y: F): void;
  /** dY [B,K] -> dH [B,H], written into `dH`; adds into dKernel [H,K] and dBias [K]. */
  denseBackward(shape: DenseShape, h: F, dY: F, kernel: F, dKernel: F, dBias: F, dH: F): void;

  /** tokens [B*T] (ids < V), table [V,E] -> x [B,T,E], written into `x`. */
  embeddingForward(tokens: Int32Array, table: F, E: number, x: F): void;
  /** Scatter-add of dX [B,T,E] into dTable [V,E] at the rows named by tokens. */
  embeddingBackward(tokens: Int32Array, dX: F, dTable: F, E: number): void;

  /** Frees a forward cache without running the backward (inference, failed steps). */
  release(cache: LayerCache): void;
  /** Frees everything the backend holds. Idempotent. */
  dispose(): void;
}
