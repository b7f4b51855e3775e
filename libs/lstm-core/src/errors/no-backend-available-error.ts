import type { SkippedBackend } from '../backend-registry';

/** `auto` tried every backend in its order and none loaded. */
export class NoBackendAvailableError extends Error {
  override readonly name = 'NoBackendAvailableError';

  constructor(readonly skipped: readonly SkippedBackend[]) {
    super(`no compute backend could be loaded: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}`);
  }
}
