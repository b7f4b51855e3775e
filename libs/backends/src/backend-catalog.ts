// Every compute backend this build has, in one registry: the one place a process turns a
// backend name (or 'auto') into a loaded ComputeBackend, and a loaded backend into the
// numerics profile it computes. lstm-core imports no backend package of ours, so the
// registry is filled here, for the CLI, the workers' compute threads and inference alike.
import { createHash } from 'node:crypto';
import {
  BackendRegistry,
  DEFAULT_BACKEND_OPTIONS,
  NUMERICS_VERSION,
  registerTfjsBackends,
  type BackendOptions,
  type ComputeBackend,
  type LoadedBackend,
} from '@lstm-runner/lstm-core';
import { registerNativeBackend } from '@lstm-runner/lstm-native';
import type { NumericsProfile, ProfileSpec } from '@lstm-runner/protocol';

/** A registry holding every backend of this build: the tfjs ones and native (which says why not when its addon is not built). */
export function createBackendRegistry(): BackendRegistry {
  return registerNativeBackend(registerTfjsBackends(new BackendRegistry()));
}

/** Loads a backend by name, or the first that loads for 'auto'. */
export function loadComputeBackend(name: string, options: BackendOptions = DEFAULT_BACKEND_OPTIONS): Promise<LoadedBackend> {
  return createBackendRegistry().load(name, options);
}

/** 'n' and 8 hex digits of a hash of lstm-core's numerics version and the backend's library build. */
export function numericsBuildOf(backend: Pick<ComputeBackend, 'numericsBuild'>): string {
  return `n${createHash('sha256').update(`lstm-core numerics ${NUMERICS_VERSION}; ${backend.numericsBuild}`).digest('hex').slice(0, 8)}`;
}

/** The numerics profile a loaded backend computes with `threads` threads. */
export function numericsProfileOf(backend: Pick<ComputeBackend, 'name' | 'numericsBuild' | 'isa'>, threads: number): NumericsProfile {
  return { backend: backend.name, threads, ...(backend.isa === undefined ? {} : { isa: backend.isa }), build: numericsBuildOf(backend) };
}

/** The profile this machine computes for a request ('auto' or a name, and threads): loads the backend to find out, then frees it. */
export async function localNumericsProfile(request: ProfileSpec): Promise<{ readonly profile: NumericsProfile; readonly summary: string }> {
  const loaded = await loadComputeBackend(request.backend, { threads: request.threads });
  try {
    return { profile: numericsProfileOf(loaded.backend, request.threads), summary: loaded.summary };
  } finally {
    loaded.backend.dispose();
  }
}
