/** Bytes that are not a float32 vector of the expected shape: truncated, foreign or mismatched. */
export class VectorFormatError extends Error {
  override readonly name = 'VectorFormatError';
}
