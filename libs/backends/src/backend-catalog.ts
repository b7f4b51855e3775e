// Every compute backend this build has, in one registry: the one place a process turns a
// backend name (or 'auto') into a loaded ComputeBackend. lstm-core imports no backend package
// of ours, so the registry is filled here, for the CLI, the workers' compute threads and
// inference alike.
import { BackendRegistry, registerTfjsBackends, type LoadedBackend } from '@lstm-runner/lstm-core';

/** A registry holding every backend of this build (the tfjs ones; native when it is built). */
export function createBackendRegistry(): BackendRegistry {
  return registerTfjsBackends(new BackendRegistry());
}

/** Loads a backend by name, or the first that loads for 'auto'. */
export function loadComputeBackend(name: string): Promise<LoadedBackend> {
  return createBackendRegistry().load(name);
}
