import { detectNativeIsa, isNativeIsa, NATIVE_ISAS, type NativeIsa } from './environment';
import { NativeOptionsError } from './errors/native-options-error';

export interface NativeBackendOptions {
  /** OpenMP threads per call: part of the numerics profile (results differ between thread
   * counts, never between runs with the same count). Default 1. */
  readonly threads?: number;
  /** The highest instruction set oneDNN may use (a oneDNN name, e.g. 'avx2'): part of the
   * numerics profile. Default: the highest this CPU supports. A lower one lets machines of
   * different generations share a profile. */
  readonly isa?: string;
}

export const NATIVE_BACKEND_DEFAULTS = { threads: 1 } as const;
export const MAX_NATIVE_THREADS = 1024;

export interface ResolvedNativeOptions {
  readonly threads: number;
  readonly isa: NativeIsa;
}

/** Defaults merged, then validated; the ISA default needs the built addon (cpuid). */
export function resolveNativeOptions(options: NativeBackendOptions): ResolvedNativeOptions {
  const threads = options.threads ?? NATIVE_BACKEND_DEFAULTS.threads;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_NATIVE_THREADS) {
    throw new NativeOptionsError('threads', threads, `must be an integer from 1 to ${MAX_NATIVE_THREADS}`);
  }
  const detected = detectNativeIsa();
  const isa = options.isa ?? detected;
  if (!isNativeIsa(isa)) throw new NativeOptionsError('isa', isa, `is not one of oneDNN's: ${NATIVE_ISAS.join(', ')}`);
  if (NATIVE_ISAS.indexOf(isa) > NATIVE_ISAS.indexOf(detected)) {
    throw new NativeOptionsError('isa', isa, `is beyond this CPU (its highest is ${detected})`);
  }
  return { threads, isa };
}
