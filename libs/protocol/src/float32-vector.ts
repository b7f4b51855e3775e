// The binary format of weights, gradients and other flat float32 vectors in the store:
//
//   offset  size  field
//        0     4  magic 'LF32'
//        4     2  format version (1), uint16 little-endian
//        6     2  flags, uint16 LE: bit 0 = a layout hash follows the header
//        8     4  length (number of floats), uint32 LE
//       12     4  reserved, 0
//       16    32  layout hash (SHA-256, raw bytes), only with flag bit 0
//   16 or 48  4*n  the floats, little-endian IEEE 754 binary32
//
// The size is exact: a truncated or padded object is an error, never a shorter vector. The
// optional layout hash ties a vector to the parameter layout it was made for, so weights of
// one model are never read as another's. Checksums live in manifests (see @lstm-runner/storage).
import { VectorFormatError } from './errors/vector-format-error';

const MAGIC = [0x4c, 0x46, 0x33, 0x32]; // 'LF32'
export const FLOAT32_VECTOR_VERSION = 1;
const HEADER_BYTES = 16;
const LAYOUT_HASH_BYTES = 32;
const FLAG_LAYOUT_HASH = 1;
const MAX_LENGTH = 0xffffffff;
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface Float32VectorOptions {
  /** Lowercase hex SHA-256 of the parameter layout the vector belongs to. */
  readonly layoutHash?: string;
}

export interface Float32VectorExpectations {
  /** The number of floats the caller needs. */
  readonly length?: number;
  /** The layout the caller needs; a vector without a layout hash does not match. */
  readonly layoutHash?: string;
}

function checkLayoutHash(layoutHash: string): void {
  if (!SHA256_HEX.test(layoutHash)) throw new VectorFormatError(`layout hash must be 64 lowercase hex digits, got '${layoutHash}'`);
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

function bytesHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function encodeFloat32Vector(values: Float32Array, options: Float32VectorOptions = {}): Uint8Array {
  if (values.length > MAX_LENGTH) throw new VectorFormatError(`a vector holds at most ${MAX_LENGTH} floats, got ${values.length}`);
  const { layoutHash } = options;
  if (layoutHash !== undefined) checkLayoutHash(layoutHash);
  const dataOffset = HEADER_BYTES + (layoutHash === undefined ? 0 : LAYOUT_HASH_BYTES);
  const out = new Uint8Array(dataOffset + 4 * values.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint16(4, FLOAT32_VECTOR_VERSION, true);
  view.setUint16(6, layoutHash === undefined ? 0 : FLAG_LAYOUT_HASH, true);
  view.setUint32(8, values.length, true);
  if (layoutHash !== undefined) out.set(hexBytes(layoutHash), HEADER_BYTES);
  if (LITTLE_ENDIAN_HOST) {
    // dataOffset is a multiple of 4, so the floats can be copied as one block.
    new Float32Array(out.buffer, dataOffset, values.length).set(values);
  } else {
    for (let i = 0; i < values.length; i++) view.setFloat32(dataOffset + 4 * i, values[i]!, true);
  }
  return out;
}

/** Checks the bytes are a vector as expected; returns its length and where its floats start. */
function checkedVector(bytes: Uint8Array, expected: Float32VectorExpectations): { length: number; dataOffset: number } {
  if (bytes.length < HEADER_BYTES) {
    throw new VectorFormatError(`truncated float32 vector: ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  }
  if (MAGIC.some((byte, i) => bytes[i] !== byte)) throw new VectorFormatError("not a float32 vector (no 'LF32' magic)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== FLOAT32_VECTOR_VERSION) {
    throw new VectorFormatError(`float32 vector format version ${version} is not supported (this build reads ${FLOAT32_VECTOR_VERSION})`);
  }
  const flags = view.getUint16(6, true);
  if ((flags & ~FLAG_LAYOUT_HASH) !== 0) throw new VectorFormatError(`float32 vector has unknown flags 0x${flags.toString(16)}`);
  const length = view.getUint32(8, true);
  const hasLayoutHash = (flags & FLAG_LAYOUT_HASH) !== 0;
  const dataOffset = HEADER_BYTES + (hasLayoutHash ? LAYOUT_HASH_BYTES : 0);
  const size = dataOffset + 4 * length;
  if (bytes.length !== size) {
    const problem = bytes.length < size ? 'truncated' : 'oversized';
    throw new VectorFormatError(`${problem} float32 vector: ${bytes.length} bytes, its header says ${length} floats (${size} bytes)`);
  }
  if (expected.length !== undefined && length !== expected.length) {
    throw new VectorFormatError(`float32 vector has ${length} floats, expected ${expected.length}`);
  }
  if (expected.layoutHash !== undefined) {
    checkLayoutHash(expected.layoutHash);
    const found = hasLayoutHash ? bytesHex(bytes.subarray(HEADER_BYTES, dataOffset)) : null;
    if (found !== expected.layoutHash) {
      throw new VectorFormatError(`float32 vector layout ${found ?? '(none)'} does not match the expected ${expected.layoutHash}`);
    }
  }
  return { length, dataOffset };
}

/** Reads a vector written by encodeFloat32Vector; throws VectorFormatError when bytes are not one or do not meet expected. */
export function decodeFloat32Vector(bytes: Uint8Array, expected: Float32VectorExpectations = {}): Float32Array {
  const { length, dataOffset } = checkedVector(bytes, expected);
  // A copy: aligned for Float32Array whatever the input's offset, and independent of it.
  // (Not bytes.slice: on a Node Buffer that is a view.)
  const data = new Uint8Array(4 * length);
  data.set(bytes.subarray(dataOffset));
  if (LITTLE_ENDIAN_HOST) return new Float32Array(data.buffer, 0, length);
  const dataView = new DataView(data.buffer);
  return Float32Array.from({ length }, (_, i) => dataView.getFloat32(4 * i, true));
}

/**
 * decodeFloat32Vector without the copy where it can: the floats as a view of `bytes` when
 * they are aligned for a Float32Array on a little-endian host (a fresh read of a large object
 * is), else a copy. For a caller that owns the bytes and only reads the floats: a coordinator
 * reading 64 gradients of 5 M parameters a step saves copying 1.28 GB.
 */
export function viewFloat32Vector(bytes: Uint8Array, expected: Float32VectorExpectations = {}): Float32Array {
  const { length, dataOffset } = checkedVector(bytes, expected);
  const offset = bytes.byteOffset + dataOffset;
  if (LITTLE_ENDIAN_HOST && offset % 4 === 0) return new Float32Array(bytes.buffer, offset, length);
  return decodeFloat32Vector(bytes, expected);
}
