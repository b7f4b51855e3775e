/**
 * A backend cannot load on this machine: its npm package is not installed, its native addon
 * or shared library is missing, or it failed to initialise. `auto` skips such backends; an
 * explicit request surfaces this error.
 */
export class BackendUnavailableError extends Error {
  override readonly name = 'BackendUnavailableError';

  constructor(
    /** The registry name that was requested, e.g. 'tensorflow'. */
    readonly backend: string,
    /** The npm package the backend needs, e.g. '@tensorflow/tfjs-node'. */
    readonly packageName: string,
    /** What went wrong, one line. */
    readonly reason: string,
    /** `remedy`: how to make it available, one sentence, or '' when the reason says it already;
     * by default how to install packageName from the registry. */
    options?: { cause?: unknown; remedy?: string },
  ) {
    const remedy =
      options?.remedy ??
      `It needs the npm package ${packageName}: install it with \`npm install ${packageName}\` ` +
        `(its install downloads a native library, so it needs network access and a supported platform).`;
    super(`compute backend '${backend}' is unavailable: ${reason}.${remedy === '' ? '' : ` ${remedy}`}`, options);
  }
}
