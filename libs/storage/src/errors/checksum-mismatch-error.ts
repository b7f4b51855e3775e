import { StoreError } from './store-error';

/** An object whose bytes do not match the checksum its manifest or task records. Never loaded. */
export class ChecksumMismatchError extends StoreError {
  override readonly name = 'ChecksumMismatchError';
  /** The digests, in the algorithm's own form (sha256 hex, or 'crc32:<hex>'). */
  readonly expected: string;
  readonly actual: string;

  constructor(key: string, storeUrl: string, expected: string, actual: string) {
    super({
      operation: 'get',
      key,
      storeUrl,
      code: 'ChecksumMismatch',
      transient: false,
      detail: `checksum mismatch: expected ${expected}, got ${actual}`,
    });
    this.expected = expected;
    this.actual = actual;
  }
}
