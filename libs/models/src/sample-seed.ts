// The text a char-LM's samples start from: the first characters of the job's first
// validation window (text the model has not trained on, in the corpus's own words), or of its
// first training window when the job holds no validation rows.
import { decodeTokens, openDataset } from '@lstm-runner/data';
import { readJobRecord } from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';

/** Characters of seed text by default: a phrase or two. */
export const SAMPLE_SEED_LENGTH = 40;

export async function sampleSeedText(store: ObjectStore, jobId: string, cacheDir: string, length = SAMPLE_SEED_LENGTH): Promise<string> {
  const record = await readJobRecord(store, jobId);
  const reader = await openDataset(store, record.datasetId, { cacheDir, window: record.spec.data.window });
  const { manifest } = reader;
  if (manifest.kind !== 'text') throw new Error(`job ${jobId} trains on CSV data; only text models take a seed text`);
  const split = reader.layout.validationWindows > 0 ? 'validation' : 'train';
  const batch = await reader.assembleBatch([0], split);
  const tokens = batch.tokens ?? new Int32Array(0);
  // The unknown id (characters outside the vocabulary) has no text of its own.
  const known = Array.from(tokens.subarray(0, Math.min(length, tokens.length))).filter((id) => id !== manifest.text.unknownId);
  return decodeTokens(known, manifest.text.vocabulary);
}
