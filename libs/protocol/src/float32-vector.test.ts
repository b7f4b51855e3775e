import { describe, expect, it } from 'vitest';
import { decodeFloat32Vector, encodeFloat32Vector, viewFloat32Vector } from './float32-vector';
import { VectorFormatError } from './errors/vector-format-error';

const LAYOUT = 'a'.repeat(64);

describe('float32 vectors', () => {
  it('round-trips values bit for bit, specials included', () => {
    const values = Float32Array.from([0, -0, 1.5, -3.25e-38, 3.4e38, Infinity, -Infinity, NaN, 1e-45]);
    const bytes = encodeFloat32Vector(values);
    expect(bytes.length).toBe(16 + 4 * values.length);
    const back = decodeFloat32Vector(bytes);
    expect(new Uint32Array(back.buffer)).toEqual(new Uint32Array(values.buffer));
  });

  it('writes the documented header, little-endian', () => {
    const bytes = encodeFloat32Vector(Float32Array.from([1]));
    expect(Array.from(bytes.subarray(0, 16))).toEqual([0x4c, 0x46, 0x33, 0x32, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(bytes.subarray(16))).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('handles the empty vector and large ones', () => {
    expect(decodeFloat32Vector(encodeFloat32Vector(new Float32Array(0)))).toHaveLength(0);
    const big = Float32Array.from({ length: 1_000_000 }, (_, i) => Math.sin(i));
    const back = decodeFloat32Vector(encodeFloat32Vector(big));
    expect(Buffer.compare(new Uint8Array(back.buffer), new Uint8Array(big.buffer))).toBe(0);
  });

  it('views aligned bytes without a copy and copies unaligned ones, checking both alike', () => {
    const bytes = encodeFloat32Vector(Float32Array.from([1, 2, 3]));
    const viewed = viewFloat32Vector(bytes);
    expect(viewed).toEqual(Float32Array.from([1, 2, 3]));
    expect(viewed.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const copied = viewFloat32Vector(shifted.subarray(1));
    expect(copied).toEqual(Float32Array.from([1, 2, 3]));
    expect(copied.buffer).not.toBe(shifted.buffer);
    expect(() => viewFloat32Vector(bytes.subarray(0, bytes.length - 1))).toThrow(VectorFormatError);
    expect(() => viewFloat32Vector(bytes, { length: 4 })).toThrow(VectorFormatError);
  });

  it('reads from unaligned views and Node Buffers, and returns an independent copy', () => {
    const bytes = encodeFloat32Vector(Float32Array.from([1, 2, 3]));
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(decodeFloat32Vector(shifted.subarray(1))).toEqual(Float32Array.from([1, 2, 3]));
    const pooled = Buffer.concat([Buffer.from('xyz'), Buffer.from(bytes)]).subarray(3);
    const decoded = decodeFloat32Vector(pooled);
    expect(decoded).toEqual(Float32Array.from([1, 2, 3]));
    pooled.fill(0);
    expect(decoded).toEqual(Float32Array.from([1, 2, 3]));
  });

  it('carries and checks a layout hash', () => {
    const bytes = encodeFloat32Vector(Float32Array.from([1, 2]), { layoutHash: LAYOUT });
    expect(bytes.length).toBe(48 + 8);
    expect(decodeFloat32Vector(bytes, { layoutHash: LAYOUT, length: 2 })).toEqual(Float32Array.from([1, 2]));
    expect(decodeFloat32Vector(bytes)).toEqual(Float32Array.from([1, 2]));
    expect(() => decodeFloat32Vector(bytes, { layoutHash: 'b'.repeat(64) })).toThrow(/layout a{64} does not match/);
    expect(() => decodeFloat32Vector(encodeFloat32Vector(Float32Array.from([1, 2])), { layoutHash: LAYOUT })).toThrow(/\(none\)/);
    expect(() => encodeFloat32Vector(new Float32Array(1), { layoutHash: 'XYZ' })).toThrow(VectorFormatError);
  });

  it('refuses truncated, padded, foreign and mismatched bytes with clear messages', () => {
    const bytes = encodeFloat32Vector(Float32Array.from([1, 2, 3]));
    expect(() => decodeFloat32Vector(bytes.subarray(0, bytes.length - 1))).toThrow(
      /truncated float32 vector: 27 bytes, its header says 3 floats \(28 bytes\)/,
    );
    expect(() => decodeFloat32Vector(bytes.subarray(0, 10))).toThrow(/truncated float32 vector: 10 bytes/);
    const padded = new Uint8Array(bytes.length + 4);
    padded.set(bytes);
    expect(() => decodeFloat32Vector(padded)).toThrow(/oversized/);
    expect(() => decodeFloat32Vector(new TextEncoder().encode('{"weights": [1, 2, 3]}'))).toThrow(/no 'LF32' magic/);
    const future = bytes.slice();
    future[4] = 2;
    expect(() => decodeFloat32Vector(future)).toThrow(/version 2 is not supported/);
    const flagged = bytes.slice();
    flagged[6] = 4;
    expect(() => decodeFloat32Vector(flagged)).toThrow(/unknown flags/);
    expect(() => decodeFloat32Vector(bytes, { length: 4 })).toThrow(/has 3 floats, expected 4/);
    expect(() => decodeFloat32Vector(bytes.subarray(0, 10))).toThrow(VectorFormatError);
  });
});
