/** A dataset manifest that is missing, malformed or of a format version this code does not read. */
export class DatasetFormatError extends Error {
  override readonly name = 'DatasetFormatError';
  readonly key: string;

  constructor(key: string, detail: string) {
    super(`${key}: ${detail}`);
    this.key = key;
  }
}
