import { describe, expect, it } from 'vitest';
import { codePointsOf } from './text-source';
import { TokenEncoder, decodeTokens, encodeText, tokenTypeFor, vocabularyFromFirstSeen } from './vocabulary';

describe('vocabulary', () => {
  it('keeps the characters first seen in training rows, sorted by code point', () => {
    const firstSeen = new Map([
      [0x62, 0],
      [0x61, 3],
      [0x1f600, 1],
      [0x7a, 9],
    ]);
    expect(vocabularyFromFirstSeen(firstSeen, 9)).toEqual(['a', 'b', '😀']);
  });

  it('maps characters outside the vocabulary to the unknown id = vocabulary.length', () => {
    const vocabulary = ['a', 'b', 'é', '😀'];
    const encoder = new TokenEncoder(vocabulary);
    expect(encoder.unknownId).toBe(4);
    expect(encodeText('ab😀éz🙂', { vocabulary, lowercase: false })).toEqual(Int32Array.from([0, 1, 3, 2, 4, 4]));
    expect(encodeText('AÉ', { vocabulary, lowercase: true })).toEqual(Int32Array.from([0, 2]));
    expect(decodeTokens([0, 3, 4, 1], vocabulary)).toBe('a😀\ufffdb');
  });

  it('picks the smallest token type, counting the unknown id', () => {
    expect(tokenTypeFor(256)).toBe('uint8');
    expect(tokenTypeFor(257)).toBe('uint16');
    expect(tokenTypeFor(65536)).toBe('uint16');
    expect(tokenTypeFor(65537)).toBe('int32');
  });

  it('lowercases code point by code point (independent of context and chunking)', () => {
    const codePoints = codePointsOf('ΟΔΟΣ İ', true);
    // Σ at a word end is σ, not the contextual ς; İ lowercases to two code points.
    expect(String.fromCodePoint(...codePoints)).toBe('οδοσ i̇');
    expect(codePoints.length).toBe(7);
  });
});
