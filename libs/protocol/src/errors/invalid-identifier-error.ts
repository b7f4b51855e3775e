/**
 * A value that cannot become part of a storage key, queue name or BullMQ job id: a job id,
 * model name, step number, numerics profile... The message names what it is and why.
 */
export class InvalidIdentifierError extends Error {
  override readonly name = 'InvalidIdentifierError';
  /** What the value is meant to be, e.g. 'job id', 'step'. */
  readonly what: string;
  readonly value: unknown;

  constructor(what: string, value: unknown, reason: string) {
    super(`invalid ${what} ${JSON.stringify(value) ?? String(value)}: ${reason}`);
    this.what = what;
    this.value = value;
  }
}
