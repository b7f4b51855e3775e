/** A model spec that failed validation; `path` names the offending field (e.g. `layers[1]`). */
export class ModelSpecError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`model spec: ${path}: ${message}`);
    this.name = 'ModelSpecError';
  }
}
