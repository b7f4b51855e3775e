/** A stored optimizer state that is malformed or does not fit the optimizer asked for. */
export class OptimizerStateError extends Error {
  constructor(message: string) {
    super(`optimizer state: ${message}`);
    this.name = 'OptimizerStateError';
  }
}
