// Text corpora: UTF-8, validated strictly and decoded as a stream. A row is one Unicode code
// point. A leading BOM is dropped. Lowercasing maps each code point on its own (the result of
// String.prototype.toLowerCase on that one character), so it does not depend on where chunks
// are cut, and inference applies exactly the same map.
//
// The decoder is written out instead of using TextDecoder: it goes straight from bytes to
// code points without a string per chunk (that garbage alone grew V8's young generation by
// about the corpus size during prepare) and it reports the exact byte offset of a bad
// sequence. It accepts exactly what a fatal TextDecoder accepts (a test checks the two agree).
import { DataError } from './errors/data-error';

const lowercaseCache = new Map<number, number[]>();

/** The code points one code point lowercases to (usually one). */
export function lowercaseCodePoint(codePoint: number): readonly number[] {
  let mapped = lowercaseCache.get(codePoint);
  if (mapped === undefined) {
    mapped = Array.from(String.fromCodePoint(codePoint).toLowerCase(), (ch) => ch.codePointAt(0)!);
    lowercaseCache.set(codePoint, mapped);
  }
  return mapped;
}

/** Lowercases input[0, length) into output (a bigger buffer is returned when output is too small). */
function lowercaseInto(input: Int32Array, length: number, output: Int32Array): { codePoints: Int32Array; length: number } {
  let buffer = output;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const cp = input[i]!;
    if (n + 2 >= buffer.length) buffer = grow(buffer, n + 3);
    if (cp < 0x80) {
      buffer[n++] = cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
    } else {
      const mapped = lowercaseCodePoint(cp);
      if (n + mapped.length >= buffer.length) buffer = grow(buffer, n + mapped.length + 1);
      for (const m of mapped) buffer[n++] = m;
    }
  }
  return { codePoints: buffer, length: n };
}

function grow(buffer: Int32Array, atLeast: number): Int32Array {
  const bigger = new Int32Array(Math.max(atLeast, buffer.length * 2, 16));
  bigger.set(buffer);
  return bigger;
}

/** The code points of a string, lowercased when asked (inference input). */
export function codePointsOf(text: string, lowercase: boolean): Int32Array {
  const codePoints = Int32Array.from(text, (ch) => ch.codePointAt(0)!);
  if (!lowercase) return codePoints;
  const lowered = lowercaseInto(codePoints, codePoints.length, new Int32Array(codePoints.length));
  return lowered.codePoints.slice(0, lowered.length);
}

/**
 * Streaming, strict UTF-8 -> code points (the WHATWG decoder's rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence at the end). Bad input is a
 * DataError naming the file and the byte offset where the bad sequence starts.
 */
export class Utf8Decoder {
  private readonly file: string;
  private codePoint = 0;
  private needed = 0;
  private seen = 0;
  private lower = 0x80;
  private upper = 0xbf;
  /** Bytes decoded so far; the start of a pending sequence when one is open. */
  private offset = 0;
  private sequenceStart = 0;
  private atStart = true;

  constructor(file: string) {
    this.file = file;
  }

  private invalid(offset: number): never {
    throw new DataError(`not valid UTF-8 text (byte offset ${offset})`, { file: this.file });
  }

  /** Decodes a chunk into out (which must hold bytes.length code points); returns the count. */
  decode(bytes: Uint8Array, out: Int32Array): number {
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (this.needed === 0) {
        if (byte < 0x80) {
          out[n++] = byte;
          continue;
        }
        this.sequenceStart = this.offset + i;
        if (byte >= 0xc2 && byte <= 0xdf) {
          this.needed = 1;
          this.codePoint = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) this.lower = 0xa0;
          if (byte === 0xed) this.upper = 0x9f;
          this.needed = 2;
          this.codePoint = byte & 0x0f;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) this.lower = 0x90;
          if (byte === 0xf4) this.upper = 0x8f;
          this.needed = 3;
          this.codePoint = byte & 0x07;
        } else {
          this.invalid(this.offset + i);
        }
        continue;
      }
      if (byte < this.lower || byte > this.upper) this.invalid(this.sequenceStart);
      this.lower = 0x80;
      this.upper = 0xbf;
      this.codePoint = (this.codePoint << 6) | (byte & 0x3f);
      if (++this.seen === this.needed) {
        out[n++] = this.codePoint;
        this.needed = 0;
        this.seen = 0;
      }
    }
    this.offset += bytes.length;
    if (this.atStart && n > 0) {
      this.atStart = false;
      if (out[0] === 0xfeff) {
        out.copyWithin(0, 1, n);
        n--;
      }
    }
    return n;
  }

  /** Ends the stream: a sequence still open is an error. */
  end(): void {
    if (this.needed !== 0) this.invalid(this.sequenceStart);
  }
}

/**
 * Streams the code points of a UTF-8 byte stream: `onCodePoints(codePoints, length)` per chunk
 * (the buffer is reused; a returned promise is awaited before the next chunk is read).
 * Returns the number of code points. Bad UTF-8 is a DataError with the byte offset.
 */
export async function readTextCodePoints(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  file: string,
  lowercase: boolean,
  onCodePoints: (codePoints: Int32Array, length: number) => void | Promise<void>,
): Promise<number> {
  const decoder = new Utf8Decoder(file);
  let decoded: Int32Array = new Int32Array(0);
  let lowered: Int32Array = new Int32Array(0);
  let total = 0;
  for await (const chunk of chunks) {
    if (decoded.length < chunk.length) decoded = new Int32Array(chunk.length);
    let length = decoder.decode(chunk, decoded);
    let codePoints = decoded;
    if (lowercase) {
      ({ codePoints, length } = lowercaseInto(decoded, length, lowered));
      lowered = codePoints;
    }
    total += length;
    if (length > 0) await onCodePoints(codePoints, length);
  }
  decoder.end();
  return total;
}
