// Key rules shared by every store, so that a key valid on S3 is valid in a local directory
// and cannot escape it: '/'-separated relative paths, no empty, '.' or '..' segments, no
// backslashes or control characters, at most 1024 characters (S3's limit in bytes for ASCII).
import { InvalidKeyError } from './errors/invalid-key-error';
import type { StoreOperation } from './object-store';

/** Names of the local store's temporary files start with this; no key segment may. */
export const TEMP_FILE_PREFIX = '.lstm-tmp-';

const MAX_KEY_LENGTH = 1024;

function characterProblem(text: string): string | null {
  if (text.includes('\\')) return 'contains a backslash';
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'contains a control character';
  if (text.startsWith('/')) return 'is absolute (starts with /)';
  if (text.length > MAX_KEY_LENGTH) return `is longer than ${MAX_KEY_LENGTH} characters`;
  return null;
}

function segmentProblem(segment: string): string | null {
  if (segment === '') return 'has an empty segment';
  if (segment === '.' || segment === '..') return `has a '${segment}' segment`;
  if (segment.startsWith(TEMP_FILE_PREFIX)) return `has a segment starting with the reserved '${TEMP_FILE_PREFIX}'`;
  return null;
}

/** Why key is not a valid object key, or null when it is. */
export function keyProblem(key: string): string | null {
  if (key === '') return 'is empty';
  const problem = characterProblem(key);
  if (problem !== null) return problem;
  for (const segment of key.split('/')) {
    const found = segmentProblem(segment);
    if (found !== null) return found;
  }
  return null;
}

/**
 * Why prefix is not a valid list prefix, or null when it is. A prefix is '' or any start of
 * a valid key: its complete segments follow the key rules, the last one may be partial.
 */
export function prefixProblem(prefix: string): string | null {
  if (prefix === '') return null;
  const problem = characterProblem(prefix);
  if (problem !== null) return problem;
  const complete = prefix.split('/').slice(0, -1);
  for (const segment of complete) {
    const found = segmentProblem(segment);
    if (found !== null) return found;
  }
  return null;
}

export function assertValidKey(operation: StoreOperation, key: string, storeUrl: string): void {
  const problem = keyProblem(key);
  if (problem !== null) throw new InvalidKeyError(operation, key, storeUrl, problem);
}

export function assertValidPrefix(prefix: string, storeUrl: string): void {
  const problem = prefixProblem(prefix);
  if (problem !== null) throw new InvalidKeyError('list', prefix, storeUrl, problem);
}
