// The numerics profile's environment, pinned before oneDNN loads. OpenMP (libgomp) reads
// OMP_NUM_THREADS and OMP_WAIT_POLICY once, when the library is initialised, which happens
// when the first thread of the process loads the oneDNN addon; oneDNN reads
// ONEDNN_MAX_CPU_ISA once, before its first kernel. So they are set in the process's real
// environment (through the process_env addon: in a worker thread, process.env is a private
// copy that getenv() never sees) before the first load, and never changed afterwards. Later
// loads (other worker threads, other backends) find OpenMP initialised: they leave the
// environment alone and set their thread count per call instead (omp_set_num_threads is per
// calling thread), and the ISA is checked after loading.

import { createRequire } from 'node:module';
import { ADDON_FILES } from './availability';

interface ProcessEnvAddon {
  setenv(name: string, value: string): void;
  getenv(name: string): string | null;
  /** The highest oneDNN ISA name the CPU supports (cpuid). */
  cpuIsa(): string;
  /** Whether libgomp is already loaded in this process. */
  openMpLoaded(): boolean;
}

/** oneDNN 2.6's CPU instruction sets, lowest first; each includes the ones before it. */
export const NATIVE_ISAS = ['sse41', 'avx', 'avx2', 'avx512_core', 'avx512_core_vnni', 'avx512_core_bf16', 'avx512_core_amx'] as const;
export type NativeIsa = (typeof NATIVE_ISAS)[number];

export function isNativeIsa(name: string): name is NativeIsa {
  return (NATIVE_ISAS as readonly string[]).includes(name);
}

const requireAddon = createRequire(import.meta.url);
let processEnvAddon: ProcessEnvAddon | undefined;

/** Loads the process_env addon (it links neither oneDNN nor OpenMP). Throws when it does not load. */
export function processEnv(): ProcessEnvAddon {
  processEnvAddon ??= requireAddon(ADDON_FILES.processEnv) as ProcessEnvAddon;
  return processEnvAddon;
}

let detectedIsa: NativeIsa | undefined;

/** The highest oneDNN instruction set this CPU supports, from cpuid, detected once. Needs the
 * built addon (not oneDNN itself). */
export function detectNativeIsa(): NativeIsa {
  if (detectedIsa === undefined) {
    const name = processEnv().cpuIsa();
    if (!isNativeIsa(name)) throw new Error(`native backend: this CPU has none of oneDNN's instruction sets (${NATIVE_ISAS.join(', ')})`);
    detectedIsa = name;
  }
  return detectedIsa;
}

export interface PinnedEnvironment {
  /** OMP_WAIT_POLICY as the process's OpenMP read it, when this load could tell. */
  readonly ompWaitPolicy: string | null;
  /** Whether this call set the environment (false: OpenMP was loaded already). */
  readonly setHere: boolean;
}

/** Sets OMP_NUM_THREADS, OMP_WAIT_POLICY=PASSIVE and ONEDNN_MAX_CPU_ISA, unless OpenMP is loaded already. */
export function pinNativeEnvironment(threads: number, isa: NativeIsa): PinnedEnvironment {
  const env = processEnv();
  const setHere = !env.openMpLoaded();
  if (setHere) {
    const values: [string, string][] = [
      ['OMP_NUM_THREADS', String(threads)],
      // Each compute thread owns an OpenMP team; spinning waiters would take the cores the
      // other threads and processes of a worker need.
      ['OMP_WAIT_POLICY', 'PASSIVE'],
      ['ONEDNN_MAX_CPU_ISA', isa.toUpperCase()],
    ];
    for (const [name, value] of values) {
      env.setenv(name, value);
      process.env[name] = value;
    }
  }
  return { ompWaitPolicy: env.getenv('OMP_WAIT_POLICY'), setHere };
}
