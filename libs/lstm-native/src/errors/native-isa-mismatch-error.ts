/**
 * oneDNN dispatches to another instruction set than the one this backend pinned: the
 * process's oneDNN had already fixed its ISA (ONEDNN_MAX_CPU_ISA is read once) before this
 * backend loaded, e.g. by another backend pinned differently. Its results would not be the
 * pinned numerics profile's bits.
 */
export class NativeIsaMismatchError extends Error {
  override readonly name = 'NativeIsaMismatchError';

  constructor(
    readonly pinned: string,
    readonly effective: string,
  ) {
    super(
      `native backend: oneDNN dispatches to ${effective}, not the pinned ${pinned}: this process's oneDNN fixed its instruction set ` +
        `before this backend loaded (one process serves one ISA; set ONEDNN_MAX_CPU_ISA=${pinned.toUpperCase()} before anything loads oneDNN)`,
    );
  }
}
