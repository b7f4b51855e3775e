// ComputeBackend<Float32Array> over tfjs-core, for any tfjs backend: 'wasm', 'cpu', and the
// optional native ones, 'tensorflow' (@tensorflow/tfjs-node) and 'tensorflow-gpu'
// (@tensorflow/tfjs-node-gpu). The backend packages are loaded at run time, so a missing
// optional one is a typed error instead of a failed import.

import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { ComputeBackend, DenseShape, LayerCache, LstmGradients, LstmShape, LstmWeights } from '../backend';
import { BackendUnavailableError } from '../errors/backend-unavailable-error';
import { denseBackward, denseForward } from './dense-layer';
import { embeddingBackward, embeddingForward } from './embedding';
import { GateWorkspacePool, loadGateKernels } from './gate-kernels';
import { TfjsLstmCache, lstmBackward, lstmForward } from './lstm-layer';
import type { BackendRegistry } from '../backend-registry';

export type TfjsBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

interface TfjsBackendPackage {
  /** The npm package that registers the backend with tfjs-core. */
  readonly packageName: string;
  /** The name the package registers under in tfjs-core. */
  readonly tfjsName: string;
}

const PACKAGES: Readonly<Record<TfjsBackendName, TfjsBackendPackage>> = {
  'tensorflow-gpu': { packageName: '@tensorflow/tfjs-node-gpu', tfjsName: 'tensorflow' },
  tensorflow: { packageName: '@tensorflow/tfjs-node', tfjsName: 'tensorflow' },
  wasm: { packageName: '@tensorflow/tfjs-backend-wasm', tfjsName: 'wasm' },
  cpu: { packageName: '@tensorflow/tfjs-backend-cpu', tfjsName: 'cpu' },
};

/** In the order `auto` prefers them. */
export const TFJS_BACKEND_NAMES: readonly TfjsBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

const requirePackage = createRequire(import.meta.url);

/** Errors that mean "this package (or the native library under it) is not on this machine". */
function missingReason(error: unknown, packageName: string): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  const firstLine = error.message.split('\n')[0] ?? '';
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    return firstLine.includes(`'${packageName}'`)
      ? `npm package ${packageName} is not installed`
      : `a module it needs is missing (${firstLine})`;
  }
  if (/native addon module .* can ?not be found/i.test(error.message)) return `its native addon is missing (${firstLine})`;
  if (code === 'ERR_DLOPEN_FAILED') return `its native library does not load (${firstLine})`;
  return null;
}

function loadPackage(name: TfjsBackendName, require: NodeJS.Require): unknown {
  const { packageName } = PACKAGES[name];
  try {
    return require(packageName);
  } catch (error) {
    const reason = missingReason(error, packageName);
    if (reason === null) throw error;
    throw new BackendUnavailableError(name, packageName, reason, { cause: error });
  }
}

function packageVersion(packageName: string): string {
  try {
    const manifest = requirePackage(`${packageName}/package.json`) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown version';
  } catch {
    return 'unknown version';
  }
}

async function wasmDetails(wasmModule: unknown): Promise<string> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  const getThreadsCount = (wasmModule as { getThreadsCount?: unknown }).getThreadsCount;
  const multithreaded = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true;
  const threads = multithreaded && typeof getThreadsCount === 'function' ? Number(getThreadsCount()) : 1;
  return `${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'}`;
}

class TfjsComputeBackend implements ComputeBackend<Float32Array> {
  private disposed = false;

  constructor(
    readonly name: TfjsBackendName,
    readonly description: string,
    readonly numericsBuild: string,
    private readonly tfjsName: string,
    private readonly workspaces: GateWorkspacePool,
  ) {}

  allocate(length: number): Float32Array {
    return new Float32Array(length);
  }

  lstmForward(shape: LstmShape, x: Float32Array, weights: LstmWeights<Float32Array>, training: boolean, hidden: Float32Array): LayerCache {
    this.activate();
    return lstmForward(this, this.workspaces, shape, x, weights, training, hidden);
  }

  lstmBackward(
    shape: LstmShape,
    cache: LayerCache,
    dHidden: Float32Array,
    weights: LstmWeights<Float32Array>,
    grads: LstmGradients<Float32Array>,
    dX: Float32Array | null,
  ): void {
    this.activate();
    lstmBackward(this, shape, cache, dHidden, weights, grads, dX);
  }

  denseForward(shape: DenseShape, h: Float32Array, kernel: Float32Array, bias: Float32Array, y: Float32Array): void {
    this.activate();
    denseForward(shape, h, kernel, bias, y);
  }

  denseBackward(
    shape: DenseShape,
    h: Float32Array,
    dY: Float32Array,
    kernel: Float32Array,
    dKernel: Float32Array,
    dBias: Float32Array,
    dH: Float32Array,
  ): void {
    this.activate();
    denseBackward(shape, h, dY, kernel, dKernel, dBias, dH);
  }

  embeddingForward(tokens: Int32Array, table: Float32Array, E: number, x: Float32Array): void {
    embeddingForward(tokens, table, E, x);
  }

  embeddingBackward(tokens: Int32Array, dX: Float32Array, dTable: Float32Array, E: number): void {
    embeddingBackward(tokens, dX, dTable, E);
  }

  release(cache: LayerCache): void {
    if (cache instanceof TfjsLstmCache && cache.owner === this) cache.release();
  }

  /** Holds no tensors between calls, so there is nothing to free in tfjs; later calls throw. */
  dispose(): void {
    this.disposed = true;
  }

  /**
   * tfjs-core has one global engine: make it run on this backend. Switching to an already
   * initialised backend completes synchronously, so wasm and cpu backends can alternate.
   */
  private activate(): void {
    if (this.disposed) throw new Error(`compute backend '${this.name}' was disposed`);
    if (tf.getBackend() === this.tfjsName) return;
    void tf.setBackend(this.tfjsName);
    if (tf.getBackend() !== this.tfjsName) throw new Error(`tfjs did not switch to its '${this.tfjsName}' backend`);
  }
}

/**
 * Loads the tfjs backend package for `name`, initialises it and returns a ComputeBackend over
 * it. Throws BackendUnavailableError (naming the npm package) when it cannot load here.
 */
export async function createTfjsBackend(
  name: TfjsBackendName,
  require: NodeJS.Require = requirePackage,
): Promise<ComputeBackend<Float32Array>> {
  const { packageName, tfjsName } = PACKAGES[name];
  const backendModule = loadPackage(name, require);
  if (tf.findBackendFactory(tfjsName) === null) {
    throw new BackendUnavailableError(
      name,
      packageName,
      `it registered its backend with another copy of @tensorflow/tfjs-core than lstm-core's ` +
        `(\`npm ls @tensorflow/tfjs-core\` should list one version)`,
    );
  }
  let initialised: boolean;
  try {
    initialised = await tf.setBackend(tfjsName);
  } catch (error) {
    throw new BackendUnavailableError(name, packageName, `tfjs could not initialise it (${String(error)})`, { cause: error });
  }
  if (!initialised) throw new BackendUnavailableError(name, packageName, 'tfjs could not initialise it');
  const details = {
    wasm: () => wasmDetails(backendModule),
    cpu: () => Promise.resolve('plain JavaScript'),
    tensorflow: () => Promise.resolve('libtensorflow, CPU'),
    'tensorflow-gpu': () => Promise.resolve('libtensorflow with CUDA: GPU when one is visible'),
  }[name];
  const description = `${name}: tfjs-core ${tf.version_core} on ${packageName} ${packageVersion(packageName)} (${await details()})`;
  const numericsBuild = `tfjs-core ${tf.version_core}, ${packageName} ${packageVersion(packageName)}`;
  return new TfjsComputeBackend(name, description, numericsBuild, tfjsName, new GateWorkspacePool(await loadGateKernels()));
}

/** Registers the four tfjs backends by name; `auto` finds them through the registry's order. */
export function registerTfjsBackends(registry: BackendRegistry): BackendRegistry {
  for (const name of TFJS_BACKEND_NAMES) {
    registry.register(name, (options) => {
      // tfjs computes one shard on one thread here (wasm has no threads in Node; the others
      // choose their own): a profile with more threads would promise bits it cannot give.
      if (options.threads !== 1)
        throw new RangeError(`the ${name} backend computes a shard on one thread: threads must be 1, got ${options.threads}`);
      return createTfjsBackend(name);
    });
  }
  return registry;
}
