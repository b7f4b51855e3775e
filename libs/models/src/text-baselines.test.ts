import { describe, expect, it } from 'vitest';
import { corpusWordFraction } from './text-baselines';

describe('corpusWordFraction', () => {
  const words = new Set(['call', 'me', 'ishmael', 'the', 'whale']);

  it('counts whitespace-separated words, lowercased, outer punctuation stripped', () => {
    expect(corpusWordFraction('Call me Ishmael. The whale!', words)).toBe(1);
    expect(corpusWordFraction('call me ishmoel, "the" whalr', words)).toBe(3 / 5);
    expect(corpusWordFraction('  -- the  ', words)).toBe(1);
  });

  it('is NaN for a text without words', () => {
    expect(corpusWordFraction(' ... ', words)).toBeNaN();
  });
});
