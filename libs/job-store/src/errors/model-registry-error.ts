/**
 * A request about a model's versions that cannot be met: no such model or version, nothing to
 * roll back to, a bad prune. The message says what the store holds.
 */
export class ModelRegistryError extends Error {
  override readonly name = 'ModelRegistryError';
}
