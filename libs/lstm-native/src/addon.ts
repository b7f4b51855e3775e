// Loading the oneDNN addon: check it is built, pin the environment, load, check the ISA.

import { createRequire } from 'node:module';
import { BackendUnavailableError } from '@lstm-runner/lstm-core';
import { ADDON_FILES, nativeAvailability } from './availability';
import { pinNativeEnvironment, processEnv, type PinnedEnvironment } from './environment';
import { NativeIsaMismatchError } from './errors/native-isa-mismatch-error';
import { resolveNativeOptions, type NativeBackendOptions, type ResolvedNativeOptions } from './options';

/** lstm_native.node's functions (native/lstm_native.cc); shapes and arrays as documented there.
 * The first argument of each compute call is the thread count. */
export interface OneDnnAddon {
  buildInfo(): { readonly onednnVersion: string; readonly isa: string; readonly cachedShapes: number };
  /** -> [workspace, training forward scratch, backward scratch, inference forward scratch] bytes. */
  lstmBufferSizes(threads: number, B: number, T: number, I: number, H: number): [number, number, number, number];
  lstmForward(
    threads: number,
    B: number,
    T: number,
    I: number,
    H: number,
    x: Float32Array,
    kernel: Float32Array,
    recurrentKernel: Float32Array,
    bias: Float32Array,
    hidden: Float32Array,
    workspace: ArrayBuffer | null,
    scratch: ArrayBuffer,
  ): void;
  lstmBackward(
    threads: number,
    B: number,
    T: number,
    I: number,
    H: number,
    workspace: ArrayBuffer,
    dHidden: Float32Array,
    kernel: Float32Array,
    recurrentKernel: Float32Array,
    bias: Float32Array,
    dKernel: Float32Array,
    dRecurrentKernel: Float32Array,
    dBias: Float32Array,
    dX: Float32Array | null,
    scratch: ArrayBuffer,
  ): void;
  denseForward(
    threads: number,
    B: number,
    H: number,
    K: number,
    h: Float32Array,
    kernel: Float32Array,
    bias: Float32Array,
    y: Float32Array,
  ): void;
  denseBackward(
    threads: number,
    B: number,
    H: number,
    K: number,
    h: Float32Array,
    dY: Float32Array,
    kernel: Float32Array,
    dKernel: Float32Array,
    dBias: Float32Array,
    dH: Float32Array,
  ): void;
  embeddingForward(tokens: Int32Array, table: Float32Array, V: number, E: number, x: Float32Array): void;
  embeddingBackward(tokens: Int32Array, dX: Float32Array, dTable: Float32Array, V: number, E: number): void;
  /** Drops this thread's compiled LSTM primitives; returns how many shapes it held. */
  clearCache(): number;
  /** [forward, backward]: ms this thread's instance spent inside oneDNN's LSTM primitives so far. */
  primitiveMilliseconds(): [number, number];
}

export interface LoadedAddon {
  readonly addon: OneDnnAddon;
  readonly options: ResolvedNativeOptions;
  readonly environment: PinnedEnvironment;
  readonly onednnVersion: string;
}

const requireAddon = createRequire(import.meta.url);

function unavailable(reason: string, cause?: unknown): BackendUnavailableError {
  // The reason is the whole story (what is missing and how to get it): no npm install remedy.
  return new BackendUnavailableError('native', '@lstm-runner/lstm-native', reason, { cause, remedy: '' });
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/**
 * Pins the environment (before the first load in the process) and loads the addon. Throws
 * BackendUnavailableError when it is not built or does not load here, NativeOptionsError for
 * bad options, NativeIsaMismatchError when oneDNN was pinned otherwise before.
 */
export function loadOneDnnAddon(options: NativeBackendOptions): LoadedAddon {
  const availability = nativeAvailability();
  if (!availability.available) throw unavailable(availability.reason);
  try {
    processEnv();
  } catch (error) {
    throw unavailable(`the addon does not load: ${firstLine(error)} (npm run build:native builds it again)`, error);
  }
  const resolved = resolveNativeOptions(options);
  const environment = pinNativeEnvironment(resolved.threads, resolved.isa);
  let addon: OneDnnAddon;
  try {
    addon = requireAddon(ADDON_FILES.oneDnn) as OneDnnAddon;
  } catch (error) {
    throw unavailable(
      `the oneDNN addon does not load: ${firstLine(error)} (apt-get install libdnnl-dev, then npm run build:native)`,
      error,
    );
  }
  const info = addon.buildInfo();
  if (info.isa !== resolved.isa) throw new NativeIsaMismatchError(resolved.isa, info.isa);
  return { addon, options: resolved, environment, onednnVersion: info.onednnVersion };
}
