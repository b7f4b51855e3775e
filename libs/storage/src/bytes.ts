import { StoreError } from './errors/store-error';

const encoder = new TextEncoder();

/** The bytes of a put body; strings are stored as UTF-8. */
export function bodyBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body) : body;
}

/**
 * A plain Uint8Array over the same memory as buffer (a Node Buffer, say): Buffer#slice makes
 * a view where Uint8Array#slice copies, and callers of get() must be able to rely on the latter.
 */
export function asPlainBytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Throws unless [start, end) is a well-formed byte range. */
export function assertRange(key: string, start: number, end: number, storeUrl: string): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    const detail = `range [${start}, ${end}) is not a pair of integers 0 <= start <= end`;
    throw new StoreError({ operation: 'getRange', key, storeUrl, code: 'InvalidRange', transient: false, detail });
  }
}

/** The error for a range that reaches past the end of an object of size bytes. */
export function rangeBeyondObjectError(key: string, start: number, end: number, size: number, storeUrl: string): StoreError {
  const detail = `range [${start}, ${end}) reaches past the end of the object (size ${size})`;
  return new StoreError({ operation: 'getRange', key, storeUrl, code: 'InvalidRange', transient: false, detail });
}
