import { describe, expect, it } from 'vitest';
import { createRng } from '@lstm-runner/lstm-core';
import { DataError } from './errors/data-error';
import { Utf8Decoder, readTextCodePoints } from './text-source';

/** Decodes bytes cut into chunks at the given positions; null when the decoder rejects them. */
function decodeInChunks(bytes: Uint8Array, cuts: number[]): number[] | null {
  const decoder = new Utf8Decoder('t.txt');
  const out: number[] = [];
  const buffer = new Int32Array(bytes.length);
  try {
    let start = 0;
    for (const end of [...cuts, bytes.length]) {
      const n = decoder.decode(bytes.subarray(start, end), buffer);
      out.push(...buffer.subarray(0, n));
      start = end;
    }
    decoder.end();
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return null;
  }
  return out;
}

function reference(bytes: Uint8Array): number[] | null {
  try {
    return Array.from(new TextDecoder('utf-8', { fatal: true }).decode(bytes), (ch) => ch.codePointAt(0)!);
  } catch {
    return null;
  }
}

describe('Utf8Decoder', () => {
  it('accepts and rejects exactly what a fatal TextDecoder does, however the bytes are chunked', () => {
    const rng = createRng(2024);
    // Bytes biased towards the interesting ranges: ASCII, continuation bytes and lead bytes.
    const pool = [0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    const samples: Uint8Array[] = [new TextEncoder().encode('héllo wörld — 😀 \u{10ffff} \ufeff')];
    for (let s = 0; s < 4000; s++) {
      const length = 1 + rng.nextInt(8);
      samples.push(Uint8Array.from({ length }, () => (rng.nextInt(3) === 0 ? rng.nextInt(256) : pool[rng.nextInt(pool.length)]!)));
    }
    let valid = 0;
    for (const bytes of samples) {
      const expected = reference(bytes);
      if (expected !== null) valid++;
      expect(decodeInChunks(bytes, [])).toEqual(expected);
      const cut = rng.nextInt(bytes.length + 1);
      expect(decodeInChunks(bytes, [cut])).toEqual(expected);
    }
    expect(valid).toBeGreaterThan(100);
  });

  it('drops a leading BOM only', () => {
    expect(decodeInChunks(new TextEncoder().encode('\ufeffa\ufeff'), [1])).toEqual([0x61, 0xfeff]);
  });

  it('reports the byte offset where the bad sequence starts', async () => {
    const bytes = Uint8Array.from([0x61, 0x62, 0xe2, 0x80, 0x41]);
    await expect(readTextCodePoints([bytes.subarray(0, 3), bytes.subarray(3)], 'moby.txt', false, () => {})).rejects.toThrow(
      'moby.txt: not valid UTF-8 text (byte offset 2)',
    );
    await expect(readTextCodePoints([Uint8Array.from([0x61, 0xf0, 0x9f])], 'cut.txt', false, () => {})).rejects.toThrow(
      'cut.txt: not valid UTF-8 text (byte offset 1)',
    );
  });

  it('lowercases across chunks', async () => {
    const seen: number[] = [];
    const bytes = new TextEncoder().encode('ÀB İ');
    const total = await readTextCodePoints([bytes.subarray(0, 1), bytes.subarray(1)], 't.txt', true, (codePoints, length) => {
      seen.push(...codePoints.subarray(0, length));
    });
    expect(String.fromCodePoint(...seen)).toBe('àb i̇');
    expect(total).toBe(5);
  });
});
