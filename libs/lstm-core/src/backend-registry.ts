// The registry of compute backends. lstm-core imports no backend package of ours: the apps
// register loaders by name (registerTfjsBackends adds the tfjs ones; a native addon registers
// 'native' when it is built), and `auto` walks an ordered list of names, skipping the ones
// that are not registered or cannot load here.

import type { ComputeBackend } from './backend';
import { BackendUnavailableError } from './errors/backend-unavailable-error';
import { NoBackendAvailableError } from './errors/no-backend-available-error';
import { UnknownBackendError } from './errors/unknown-backend-error';

/** What a backend is loaded with. */
export interface BackendOptions {
  /** Threads one shard is computed with (part of the numerics profile). */
  readonly threads: number;
}

export const DEFAULT_BACKEND_OPTIONS: BackendOptions = { threads: 1 };

/** Loads a backend; throws BackendUnavailableError when its package or library is missing, or a RangeError for options it cannot honour. */
export type BackendLoader = (options: BackendOptions) => Promise<ComputeBackend<Float32Array>>;

/** Fastest first. 'native' (the oneDNN addon) slots in once something registers it. */
export const DEFAULT_AUTO_ORDER: readonly string[] = ['tensorflow-gpu', 'native', 'tensorflow', 'wasm', 'cpu'];

export interface SkippedBackend {
  readonly name: string;
  /** 'unregistered': nothing registered the name; 'unavailable': its package or native
   * library is missing; 'failed': it was there but threw while loading. */
  readonly kind: 'unregistered' | 'unavailable' | 'failed';
  readonly reason: string;
}

export interface LoadedBackend {
  readonly backend: ComputeBackend<Float32Array>;
  /** What was asked for: a registry name or 'auto'. */
  readonly requested: string;
  /** With 'auto', the backends tried before the chosen one, in order, and why each was passed over. */
  readonly skipped: readonly SkippedBackend[];
  /** One line for logs: the chosen backend's description and why earlier ones were skipped. */
  readonly summary: string;
}

export interface BackendRegistryOptions {
  /** Names `auto` tries, in order. Default DEFAULT_AUTO_ORDER. */
  readonly autoOrder?: readonly string[];
}

export class BackendRegistry {
  readonly autoOrder: readonly string[];
  private readonly loaders = new Map<string, BackendLoader>();

  constructor(options: BackendRegistryOptions = {}) {
    this.autoOrder = [...(options.autoOrder ?? DEFAULT_AUTO_ORDER)];
  }

  /** Registers a loader under a name; a name can be registered once. */
  register(name: string, loader: BackendLoader): this {
    if (name === 'auto' || name.length === 0) throw new RangeError(`'${name}' cannot be a backend name`);
    if (this.loaders.has(name)) throw new Error(`compute backend '${name}' is already registered`);
    this.loaders.set(name, loader);
    return this;
  }

  has(name: string): boolean {
    return this.loaders.has(name);
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.loaders.keys()];
  }

  /**
   * Loads a backend by name, or with 'auto' the first of autoOrder that loads. An explicit
   * name that cannot load throws its error (BackendUnavailableError when a package is
   * missing); an unregistered one throws UnknownBackendError; 'auto' with nothing loadable
   * throws NoBackendAvailableError.
   */
  async load(name: string, options: BackendOptions = DEFAULT_BACKEND_OPTIONS): Promise<LoadedBackend> {
    if (name !== 'auto') {
      const loader = this.loaders.get(name);
      if (loader === undefined) throw new UnknownBackendError(name, this.names());
      const backend = await loader(options);
      return { backend, requested: name, skipped: [], summary: backend.description };
    }
    const skipped: SkippedBackend[] = [];
    for (const candidate of this.autoOrder) {
      const loader = this.loaders.get(candidate);
      if (loader === undefined) {
        skipped.push({ name: candidate, kind: 'unregistered', reason: 'not registered' });
        continue;
      }
      try {
        const backend = await loader(options);
        return { backend, requested: name, skipped, summary: summarize(backend, skipped) };
      } catch (error) {
        skipped.push(
          error instanceof BackendUnavailableError
            ? { name: candidate, kind: 'unavailable', reason: error.reason }
            : { name: candidate, kind: 'failed', reason: error instanceof Error ? error.message : String(error) },
        );
      }
    }
    throw new NoBackendAvailableError(skipped);
  }
}

function summarize(backend: ComputeBackend<Float32Array>, skipped: readonly SkippedBackend[]): string {
  const passedOver = skipped.filter((s) => s.kind !== 'unregistered');
  if (passedOver.length === 0) return `${backend.description} (auto)`;
  return `${backend.description} (auto; skipped ${passedOver.map((s) => `${s.name}: ${s.reason}`).join('; ')})`;
}
