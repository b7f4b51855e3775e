// Checksums for binary objects (weights, gradients, checkpoints, dataset segments). The
// writer records sha256Hex of the bytes it puts in the manifest or job payload it keeps; the
// reader fetches with getVerified, which refuses bytes that do not match. Keeping the digest
// outside the object means a torn or stale object can never vouch for itself.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
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
  if (actual !== expectedSha256.toLowerCase())
    throw new ChecksumMismatchError(key, store.url, `sha256 ${expectedSha256}`, `sha256 ${actual}`);
  return bytes;
}

/**
 * The checksums of objects that live one step (gradients): sha256, or crc32 where a step
 * hashes gigabytes (crc32 about 5 GB/s, sha256 about 1.2 GB/s on one core here). Either
 * guards against torn and stale objects; neither against a writer that lies.
 */
export type ChecksumAlgorithm = 'sha256' | 'crc32';

/** '<algorithm>:<lowercase hex>' of the bytes: the checksum names its algorithm. */
export function checksumOf(algorithm: ChecksumAlgorithm, bytes: Uint8Array): string {
  const hex = algorithm === 'sha256' ? sha256Hex(bytes) : crc32(bytes).toString(16).padStart(8, '0');
  return `${algorithm}:${hex}`;
}

/** Gets key and checks its bytes against a checksumOf answer; throws ChecksumMismatchError when they differ. */
export async function getChecked(store: ObjectStore, key: string, checksum: string): Promise<Uint8Array> {
  const algorithm = checksum.slice(0, checksum.indexOf(':'));
  if (algorithm !== 'sha256' && algorithm !== 'crc32') throw new RangeError(`unknown checksum ${JSON.stringify(checksum)}`);
  const bytes = await store.get(key);
  const actual = checksumOf(algorithm, bytes);
  if (actual !== checksum.toLowerCase()) throw new ChecksumMismatchError(key, store.url, checksum, actual);
  return bytes;
}
