// What a char-LM's figures mean next to its data: the bigram baseline (a table of character
// pairs counted on the training rows, add-one smoothed, scored on the validation rows, in
// nats/char: what a model that learned only letter pairs would reach), and the corpus's
// words, to tell how much of a sample is made of real words.
import { datasetPrefix, decodeTokens, loadManifest, type TextManifest } from '@lstm-runner/data';
import { readJobRecord } from '@lstm-runner/job-store';
import { getVerified, type ObjectStore } from '@lstm-runner/storage';

export interface TextBaselines {
  /** Bigram cross-entropy on the validation rows (nats/char); null without validation rows. */
  readonly bigramLoss: number | null;
  /** The words of the training rows (whitespace-separated, outer punctuation stripped). */
  readonly words: ReadonlySet<string>;
}

export async function textBaselines(store: ObjectStore, jobId: string): Promise<TextBaselines> {
  const record = await readJobRecord(store, jobId);
  const manifest = await loadManifest(store, record.datasetId);
  if (manifest.kind !== 'text') throw new Error(`job ${jobId} trains on CSV data; text baselines need a text model`);
  const tokens = await datasetTokens(store, manifest);
  const V = manifest.text.vocabularySize;
  const counts = new Float64Array(V * V);
  const rowSums = new Float64Array(V);
  const words = new Set<string>();
  let loss = 0;
  let scored = 0;
  for (const series of manifest.series) {
    const trainEnd = series.start + series.trainRows;
    for (let r = series.start + 1; r < trainEnd; r++) {
      counts[tokens[r - 1]! * V + tokens[r]!]! += 1;
      rowSums[tokens[r - 1]!]! += 1;
    }
    for (const word of wordsOf(decodeTokens(tokens.subarray(series.start, trainEnd), manifest.text.vocabulary))) words.add(word);
  }
  for (const series of manifest.series) {
    for (let r = series.start + series.trainRows + 1; r < series.start + series.rows; r++) {
      const previous = tokens[r - 1]!;
      loss -= Math.log((counts[previous * V + tokens[r]!]! + 1) / (rowSums[previous]! + V));
      scored++;
    }
  }
  return { bigramLoss: scored === 0 ? null : loss / scored, words };
}

/** The share of the text's words (as wordsOf cuts them) that are in `words`; NaN for a text without words. */
export function corpusWordFraction(text: string, words: ReadonlySet<string>): number {
  const found = wordsOf(text);
  return found.filter((word) => words.has(word)).length / found.length;
}

/** Whitespace-separated tokens, lowercased, leading and trailing punctuation removed; empty ones dropped. */
function wordsOf(text: string): string[] {
  return text
    .toLowerCase()
    .split(/\s+/)
    .map((token) => token.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, ''))
    .filter((word) => word.length > 0);
}

/** Every row's token id, in order. */
async function datasetTokens(store: ObjectStore, manifest: TextManifest): Promise<Uint8Array | Uint16Array | Int32Array> {
  const parts = await Promise.all(
    manifest.segments.map((segment) => getVerified(store, `${datasetPrefix(manifest.datasetId)}${segment.name}`, segment.sha256)),
  );
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  switch (manifest.text.tokenType) {
    case 'uint8':
      return bytes;
    case 'uint16':
      return new Uint16Array(bytes.buffer, 0, bytes.byteLength / 2);
    case 'int32':
      return new Int32Array(bytes.buffer, 0, bytes.byteLength / 4);
  }
}
