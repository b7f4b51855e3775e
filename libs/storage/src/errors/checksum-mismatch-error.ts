import { StoreError } from './store-error';

/** An object whose bytes do not hash to the SHA-256 its manifest records. Never loaded. */
export class ChecksumMismatchError extends StoreError {
  override readonly name = 'ChecksumMismatchError';
  readonly expectedSha256: string;
  readonly actualSha256: string;

  constructor(key: string, storeUrl: string, expectedSha256: string, actualSha256: string) {
    super({
      operation: 'get',
      key,
      storeUrl,
      code: 'ChecksumMismatch',
      transient: false,
      detail: `checksum mismatch: expected sha256 ${expectedSha256}, got ${actualSha256}`,
    });
    this.expectedSha256 = expectedSha256;
    this.actualSha256 = actualSha256;
  }
}
