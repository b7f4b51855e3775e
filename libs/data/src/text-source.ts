// Text corpora: UTF-8, validated (a fatal decoder: bad bytes are an error, never U+FFFD) and
// decoded as a stream. A row is one Unicode code point. A leading BOM is dropped. Lowercasing
// maps each code point on its own (String.prototype.toLowerCase of that one character), so the
// result does not depend on where chunks are cut and inference can apply exactly the same map.
import { DataError } from './data-error';

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

/** The code points of `text` (lowercased when asked), written into `out` from index 0; a bigger buffer is returned when `out` is too small. */
export function codePointsOf(text: string, lowercase: boolean, out: Int32Array = new Int32Array(text.length)): { codePoints: Int32Array; length: number } {
  let buffer = out;
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = (cp - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
        i++;
      }
    }
    if (!lowercase || (cp < 0x80 && (cp < 0x41 || cp > 0x5a))) {
      if (length === buffer.length) buffer = grow(buffer);
      buffer[length++] = cp;
    } else if (cp < 0x80) {
      if (length === buffer.length) buffer = grow(buffer);
      buffer[length++] = cp + 0x20;
    } else {
      for (const mapped of lowercaseCodePoint(cp)) {
        if (length === buffer.length) buffer = grow(buffer);
        buffer[length++] = mapped;
      }
    }
  }
  return { codePoints: buffer, length };
}

function grow(buffer: Int32Array): Int32Array {
  const bigger = new Int32Array(Math.max(16, buffer.length * 2));
  bigger.set(buffer);
  return bigger;
}

/**
 * Streams the code points of a UTF-8 byte stream: `onCodePoints(codePoints, length)` per chunk
 * (the buffer is reused; a returned promise is awaited before the next chunk is read).
 * Returns the number of code points.
 */
export async function readTextCodePoints(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  lowercase: boolean,
  onCodePoints: (codePoints: Int32Array, length: number) => void | Promise<void>,
): Promise<number> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let buffer: Int32Array = new Int32Array(1 << 16);
  let total = 0;
  let offset = 0;
  const emit = async (text: string): Promise<void> => {
    const { codePoints, length } = codePointsOf(text, lowercase, buffer);
    buffer = codePoints;
    total += length;
    if (length > 0) await onCodePoints(codePoints, length);
  };
  const decode = (chunk: Uint8Array | undefined): string => {
    try {
      return chunk === undefined ? decoder.decode() : decoder.decode(chunk, { stream: true });
    } catch (error) {
      const end = offset + (chunk?.byteLength ?? 0);
      throw new DataError(`not valid UTF-8 text (bad bytes between byte offsets ${Math.max(0, offset - 3)} and ${end})`, { file }, { cause: error });
    }
  };
  for await (const chunk of chunks) {
    await emit(decode(chunk));
    offset += chunk.byteLength;
  }
  await emit(decode(undefined));
  return total;
}
