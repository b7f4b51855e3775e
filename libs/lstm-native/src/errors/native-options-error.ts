/** A native backend option is invalid: names the option, the value and what it may be. */
export class NativeOptionsError extends Error {
  override readonly name = 'NativeOptionsError';

  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`native backend option ${option}: ${JSON.stringify(value)} ${expected}`);
  }
}
