// Character vocabularies. The vocabulary is the sorted (by code point) list of the distinct
// characters of the training rows; character k has id k. One more id, `vocabulary.length`,
// is the unknown id: it stands for every character outside the vocabulary (validation rows
// may hold some; inference input may too). So a model over a vocabulary of n characters has
// n + 1 classes. Decoding the unknown id gives U+FFFD.
import { codePointsOf } from './text-source';

export type TokenType = 'uint8' | 'uint16' | 'int32';

export const UNKNOWN_CHARACTER = '\ufffd';

/** The smallest integer type that holds ids [0, vocabularySize). */
export function tokenTypeFor(vocabularySize: number): TokenType {
  if (vocabularySize <= 0x100) return 'uint8';
  if (vocabularySize <= 0x10000) return 'uint16';
  return 'int32';
}

export function tokenBytes(type: TokenType): number {
  return type === 'uint8' ? 1 : type === 'uint16' ? 2 : 4;
}

export function unknownIdOf(vocabulary: readonly string[]): number {
  return vocabulary.length;
}

/** Code points -> ids, with the unknown id for anything outside the vocabulary. */
export class TokenEncoder {
  readonly unknownId: number;
  // A table for the Basic Multilingual Plane (the common case), a map above it.
  private readonly bmp = new Int32Array(0x10000);
  private readonly astral = new Map<number, number>();

  constructor(vocabulary: readonly string[]) {
    this.unknownId = unknownIdOf(vocabulary);
    this.bmp.fill(this.unknownId);
    vocabulary.forEach((character, id) => {
      const cp = character.codePointAt(0)!;
      if (cp < 0x10000) this.bmp[cp] = id;
      else this.astral.set(cp, id);
    });
  }

  idOf(codePoint: number): number {
    return codePoint < 0x10000 ? this.bmp[codePoint]! : (this.astral.get(codePoint) ?? this.unknownId);
  }
}

/** The vocabulary: the characters whose first occurrence (row index) is a training row. */
export function vocabularyFromFirstSeen(firstSeen: ReadonlyMap<number, number>, trainRows: number): string[] {
  return [...firstSeen]
    .filter(([, row]) => row < trainRows)
    .map(([cp]) => cp)
    .sort((a, b) => a - b)
    .map((cp) => String.fromCodePoint(cp));
}

/** Text -> ids for inference, applying the dataset's lowercase setting. */
export function encodeText(text: string, encoding: { readonly vocabulary: readonly string[]; readonly lowercase: boolean }): Int32Array {
  const encoder = new TokenEncoder(encoding.vocabulary);
  return codePointsOf(text, encoding.lowercase).map((cp) => encoder.idOf(cp));
}

/** Ids -> text; the unknown id (or any id outside the vocabulary) decodes to U+FFFD. */
export function decodeTokens(ids: ArrayLike<number>, vocabulary: readonly string[]): string {
  let text = '';
  for (let i = 0; i < ids.length; i++) text += vocabulary[ids[i]!] ?? UNKNOWN_CHARACTER;
  return text;
}
