// Checksums for binary objects (weights, gradients, checkpoints, dataset segments). The
// writer records sha256Hex of the bytes it puts in the manifest or job payload it keeps; the
// reader fetches with getVerified, which refuses bytes that do not match. Keeping the digest
// outside the object means a torn or stale object can never vouch for itself.
import { createHash } from 'node:crypto';
import { bodyBytes } from './bytes';
import { ChecksumMismatchError } from './errors/checksum-mismatch-error';
import type { ObjectStore } from './object-store';

/** Lowercase hex SHA-256 of the bytes (strings hash as UTF-8, the way put stores them). */
export function sha256Hex(body: Uint8Array | string): string {
  return createHash('sha256').update(bodyBytes(body)).digest('hex');
}

/** Puts body and returns its sha256Hex, for the caller's manifest. */
export async function putChecked(store: ObjectStore, key: string, body: Uint8Array | string): Promise<string> {
  await store.put(key, body);
  return sha256Hex(body);
}

/** Gets key and checks its bytes against expectedSha256; throws ChecksumMismatchError when they differ. */
export async function getVerified(store: ObjectStore, key: string, expectedSha256: string): Promise<Uint8Array> {
  const bytes = await store.get(key);
  const actual = sha256Hex(bytes);
  if (actual !== expectedSha256.toLowerCase()) throw new ChecksumMismatchError(key, store.url, expectedSha256, actual);
  return bytes;
}
