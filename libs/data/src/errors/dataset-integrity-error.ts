/** A dataset object whose bytes do not match the checksum or size its manifest records. Never used. */
export class DatasetIntegrityError extends Error {
  override readonly name = 'DatasetIntegrityError';
  readonly key: string;

  constructor(key: string, detail: string) {
    super(`${key}: ${detail}`);
    this.key = key;
  }
}
