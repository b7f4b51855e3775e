// ComputeBackend<Float32Array> on oneDNN (native/lstm_native.cc): an LSTM layer's forward
// and backward over all timesteps are one oneDNN LSTM primitive call each, the dense head
// oneDNN's sgemm, the embedding plain loops in a fixed order. Shapes use lstm-core's keys
// (B batch, T time, I input, H hidden, E embedding, V vocabulary, K head outputs).
//
// Memory: the caller's arrays are read and written in place during a call and never kept.
// What a training forward keeps for its backward lives in a workspace buffer of this
// backend's pool, held by the cache until the backward (or release) returns it; scratch
// memory is one buffer grown to the largest call. The addon keeps only compiled primitives.

import type {
  BackendRegistry,
  ComputeBackend,
  DenseShape,
  LayerCache,
  LstmGradients,
  LstmShape,
  LstmWeights,
} from '@lstm-runner/lstm-core';
import { loadOneDnnAddon, type OneDnnAddon } from './addon';
import type { NativeIsa } from './environment';
import type { NativeBackendOptions } from './options';
import { WorkspacePool } from './workspace-pool';

/** What the numerics profile of this backend is made of, and how it was set up. */
export interface NativeBuildInfo {
  /** oneDNN's version, from the loaded library. */
  readonly onednnVersion: string;
  /** The instruction set oneDNN is pinned to (ONEDNN_MAX_CPU_ISA), as oneDNN names it. */
  readonly isa: NativeIsa;
  /** OpenMP threads per call. */
  readonly threads: number;
  /** OMP_WAIT_POLICY in the process's environment ('PASSIVE' unless something else loaded OpenMP first). */
  readonly ompWaitPolicy: string | null;
}

interface LstmBufferSizes {
  readonly workspace: number;
  readonly trainingScratch: number;
  readonly backwardScratch: number;
  readonly inferenceScratch: number;
}

/** Shapes whose buffer sizes are remembered (the addon's own primitive cache is smaller). */
const SIZE_CACHE_CAPACITY = 64;

function checkLength(what: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) throw new RangeError(`${what}: expected ${expected} values, got ${array.length}`);
}

function checkWeights({ I, H }: LstmShape, weights: LstmWeights<Float32Array>): void {
  checkLength('lstm kernel [I,4H]', weights.kernel, I * 4 * H);
  checkLength('lstm recurrent kernel [H,4H]', weights.recurrentKernel, H * 4 * H);
  checkLength('lstm bias [4H]', weights.bias, 4 * H);
}

function vocabularySize(table: Float32Array, E: number, what: string): number {
  if (!Number.isInteger(E) || E < 1 || table.length % E !== 0) {
    throw new RangeError(`${what} [V,E]: ${table.length} values do not make rows of E = ${E}`);
  }
  return table.length / E;
}

function checkTokens(tokens: Int32Array, V: number): void {
  for (let n = 0; n < tokens.length; n++) {
    const token = tokens[n]!;
    if (token < 0 || token >= V) throw new RangeError(`embedding: token ${token} at position ${n} is outside [0, ${V})`);
  }
}

class NativeLstmCache implements LayerCache {
  readonly kind = 'native-lstm';
  /** null once released, or when the forward ran with training = false. */
  private workspace: ArrayBuffer | null;

  constructor(
    /** The backend that made this cache; another backend must not consume it. */
    readonly owner: NativeComputeBackend,
    readonly shape: LstmShape,
    workspace: ArrayBuffer | null,
    private readonly pool: WorkspacePool,
  ) {
    this.workspace = workspace;
  }

  /** Runs the backward on the workspace, once; the workspace goes back to the pool afterwards. */
  consume(backward: (workspace: ArrayBuffer) => void): void {
    const workspace = this.workspace;
    if (workspace === null) throw new Error('lstmBackward: the cache was released or came from a forward with training = false');
    this.workspace = null;
    try {
      backward(workspace);
    } finally {
      this.pool.release(workspace);
    }
  }

  release(): void {
    if (this.workspace !== null) this.pool.release(this.workspace);
    this.workspace = null;
  }
}

/**
 * The version of the addon's own numerics (the C++ around oneDNN: boundary transposes, the
 * split of a call's windows over threads, the embedding, the head). Raise it with every change
 * that can change a bit of a gradient: with oneDNN's version, it is the backend's build.
 */
export const NATIVE_NUMERICS_VERSION = 1;

export class NativeComputeBackend implements ComputeBackend<Float32Array> {
  readonly name = 'native';
  readonly description: string;
  readonly numericsBuild: string;
  readonly isa: string;
  private readonly threads: number;
  private readonly workspaces = new WorkspacePool();
  private readonly sizes = new Map<string, LstmBufferSizes>();
  private scratch = new ArrayBuffer(0);
  private disposed = false;

  constructor(
    private readonly addon: OneDnnAddon,
    readonly buildInfo: NativeBuildInfo,
  ) {
    this.threads = buildInfo.threads;
    const { onednnVersion, isa, threads, ompWaitPolicy } = buildInfo;
    this.description = `native: oneDNN ${onednnVersion} (${isa}, ${threads} thread${threads === 1 ? '' : 's'}, OMP_WAIT_POLICY=${ompWaitPolicy ?? 'unset'})`;
    this.numericsBuild = `oneDNN ${onednnVersion}, lstm-native numerics ${NATIVE_NUMERICS_VERSION}`;
    this.isa = isa;
  }

  allocate(length: number): Float32Array {
    return new Float32Array(length);
  }

  // x [B,T,I] -> hidden [B,T,H]; with training, the cache holds oneDNN's workspace and copies of x and hidden.
  lstmForward(shape: LstmShape, x: Float32Array, weights: LstmWeights<Float32Array>, training: boolean, hidden: Float32Array): LayerCache {
    this.checkUsable();
    const { B, T, I, H } = shape;
    checkLength('lstm input [B,T,I]', x, B * T * I);
    checkLength('lstm hidden [B,T,H]', hidden, B * T * H);
    checkWeights(shape, weights);
    const sizes = this.lstmSizes(shape);
    const workspace = training ? this.workspaces.acquire(sizes.workspace) : null;
    const scratch = this.scratchOf(training ? sizes.trainingScratch : sizes.inferenceScratch);
    try {
      this.addon.lstmForward(
        this.threads,
        B,
        T,
        I,
        H,
        x,
        weights.kernel,
        weights.recurrentKernel,
        weights.bias,
        hidden,
        workspace,
        scratch,
      );
    } catch (error) {
      if (workspace !== null) this.workspaces.release(workspace);
      throw error;
    }
    return new NativeLstmCache(this, shape, workspace, this.workspaces);
  }

  // dHidden [B,T,H] -> dX [B,T,I] (unless null); adds into dKernel [I,4H], dRecurrentKernel [H,4H], dBias [4H]. Consumes the cache.
  lstmBackward(
    shape: LstmShape,
    cache: LayerCache,
    dHidden: Float32Array,
    weights: LstmWeights<Float32Array>,
    grads: LstmGradients<Float32Array>,
    dX: Float32Array | null,
  ): void {
    this.checkUsable();
    if (!(cache instanceof NativeLstmCache) || cache.owner !== this) {
      throw new TypeError(`lstmBackward: the cache (${cache.kind}) was not made by this backend's lstmForward`);
    }
    const { B, T, I, H } = shape;
    if (B !== cache.shape.B || T !== cache.shape.T || I !== cache.shape.I || H !== cache.shape.H) {
      throw new RangeError('lstmBackward: shape differs from the forward that made the cache');
    }
    checkLength('lstm dHidden [B,T,H]', dHidden, B * T * H);
    checkWeights(shape, weights);
    checkLength('lstm dKernel [I,4H]', grads.dKernel, I * 4 * H);
    checkLength('lstm dRecurrentKernel [H,4H]', grads.dRecurrentKernel, H * 4 * H);
    checkLength('lstm dBias [4H]', grads.dBias, 4 * H);
    if (dX !== null) checkLength('lstm dX [B,T,I]', dX, B * T * I);
    const scratch = this.scratchOf(this.lstmSizes(shape).backwardScratch);
    cache.consume((workspace) => {
      this.addon.lstmBackward(
        this.threads,
        B,
        T,
        I,
        H,
        workspace,
        dHidden,
        weights.kernel,
        weights.recurrentKernel,
        weights.bias,
        grads.dKernel,
        grads.dRecurrentKernel,
        grads.dBias,
        dX,
        scratch,
      );
    });
  }

  // h [B,H] x kernel [H,K] + bias [K] -> y [B,K]
  denseForward(shape: DenseShape, h: Float32Array, kernel: Float32Array, bias: Float32Array, y: Float32Array): void {
    this.checkUsable();
    const { B, H, K } = shape;
    checkLength('dense input [B,H]', h, B * H);
    checkLength('dense kernel [H,K]', kernel, H * K);
    checkLength('dense bias [K]', bias, K);
    checkLength('dense y [B,K]', y, B * K);
    this.addon.denseForward(this.threads, B, H, K, h, kernel, bias, y);
  }

  // dY [B,K] -> dH [B,H]; adds h^T dY into dKernel [H,K] and the column sums of dY into dBias [K].
  denseBackward(
    shape: DenseShape,
    h: Float32Array,
    dY: Float32Array,
    kernel: Float32Array,
    dKernel: Float32Array,
    dBias: Float32Array,
    dH: Float32Array,
  ): void {
    this.checkUsable();
    const { B, H, K } = shape;
    checkLength('dense input [B,H]', h, B * H);
    checkLength('dense kernel [H,K]', kernel, H * K);
    checkLength('dense dY [B,K]', dY, B * K);
    checkLength('dense dKernel [H,K]', dKernel, H * K);
    checkLength('dense dBias [K]', dBias, K);
    checkLength('dense dH [B,H]', dH, B * H);
    this.addon.denseBackward(this.threads, B, H, K, h, dY, kernel, dKernel, dBias, dH);
  }

  // tokens [B*T], table [V,E] -> x [B,T,E]
  embeddingForward(tokens: Int32Array, table: Float32Array, E: number, x: Float32Array): void {
    this.checkUsable();
    const V = vocabularySize(table, E, 'embedding table');
    checkTokens(tokens, V);
    checkLength('embedding x [B,T,E]', x, tokens.length * E);
    this.addon.embeddingForward(tokens, table, V, E, x);
  }

  // dTable [V,E] += dX [B,T,E] at the rows named by tokens [B*T], in token order.
  embeddingBackward(tokens: Int32Array, dX: Float32Array, dTable: Float32Array, E: number): void {
    this.checkUsable();
    const V = vocabularySize(dTable, E, 'embedding gradient');
    checkTokens(tokens, V);
    checkLength('embedding dX [B,T,E]', dX, tokens.length * E);
    this.addon.embeddingBackward(tokens, dX, dTable, V, E);
  }

  release(cache: LayerCache): void {
    if (cache instanceof NativeLstmCache && cache.owner === this) cache.release();
  }

  /** For profiles: ms spent inside oneDNN's LSTM primitives so far by this thread (all native
   * backends of a thread together); the rest of an LSTM call is the boundary's transposes,
   * weight reorders and checks. */
  lstmPrimitiveMilliseconds(): { readonly forward: number; readonly backward: number } {
    const [forward, backward] = this.addon.primitiveMilliseconds();
    return { forward, backward };
  }

  /** Frees the pooled buffers and this thread's compiled primitives; later calls throw. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.workspaces.clear();
    this.sizes.clear();
    this.scratch = new ArrayBuffer(0);
    this.addon.clearCache();
  }

  private checkUsable(): void {
    if (this.disposed) throw new Error(`compute backend '${this.name}' was disposed`);
  }

  /** The shape's buffer sizes; the first ask compiles its primitives. */
  private lstmSizes({ B, T, I, H }: LstmShape): LstmBufferSizes {
    const key = `${B}x${T}x${I}x${H}`;
    let sizes = this.sizes.get(key);
    if (sizes === undefined) {
      const [workspace, trainingScratch, backwardScratch, inferenceScratch] = this.addon.lstmBufferSizes(this.threads, B, T, I, H);
      sizes = { workspace, trainingScratch, backwardScratch, inferenceScratch };
      if (this.sizes.size >= SIZE_CACHE_CAPACITY) this.sizes.clear();
      this.sizes.set(key, sizes);
    }
    return sizes;
  }

  private scratchOf(bytes: number): ArrayBuffer {
    if (this.scratch.byteLength < bytes) this.scratch = new ArrayBuffer(bytes);
    return this.scratch;
  }
}

/**
 * Loads the oneDNN addon (pinning OMP_NUM_THREADS, OMP_WAIT_POLICY=PASSIVE and
 * ONEDNN_MAX_CPU_ISA first when it is the process's first load) and returns a backend over
 * it. Throws BackendUnavailableError when the addon is not built or does not load here.
 */
export async function createNativeBackend(options: NativeBackendOptions = {}): Promise<NativeComputeBackend> {
  return new NativeComputeBackend(...loaded(options));
}

function loaded(options: NativeBackendOptions): [OneDnnAddon, NativeBuildInfo] {
  const { addon, options: resolved, environment, onednnVersion } = loadOneDnnAddon(options);
  return [addon, { onednnVersion, isa: resolved.isa, threads: resolved.threads, ompWaitPolicy: environment.ompWaitPolicy }];
}

/** The backend's build info (loads the addon as createNativeBackend does, pinning the environment first). */
export function nativeBuildInfo(options: NativeBackendOptions = {}): NativeBuildInfo {
  return loaded(options)[1];
}

/** Registers 'native' with these options; `auto` tries it where its order says. */
export function registerNativeBackend(registry: BackendRegistry, options: NativeBackendOptions = {}): BackendRegistry {
  return registry.register('native', (load) => createNativeBackend({ ...options, threads: load.threads }));
}
