/** A backend name that no loader was registered for. */
export class UnknownBackendError extends Error {
  override readonly name = 'UnknownBackendError';

  constructor(
    readonly backend: string,
    readonly registered: readonly string[],
  ) {
    super(`unknown compute backend '${backend}': registered are ${registered.map((n) => `'${n}'`).join(', ') || 'none'}, and 'auto'`);
  }
}
