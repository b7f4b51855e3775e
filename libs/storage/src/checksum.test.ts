import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getVerified, putChecked, sha256Hex } from './checksum';
import { ChecksumMismatchError } from './errors/checksum-mismatch-error';
import { openStore } from './open-store';

describe('checksums', () => {
  it('hashes bytes and strings (as UTF-8) to lowercase hex SHA-256', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(sha256Hex('abc'));
  });

  it('returns verified bytes and refuses bytes that changed, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lstm-checksum-'));
    const store = openStore(dir, { env: {} });
    const sha = await putChecked(store, 'jobs/a/weights/0000000001.bin', new Uint8Array([1, 2, 3]));
    expect(await getVerified(store, 'jobs/a/weights/0000000001.bin', sha)).toEqual(new Uint8Array([1, 2, 3]));
    expect(await getVerified(store, 'jobs/a/weights/0000000001.bin', sha.toUpperCase())).toHaveLength(3);

    await store.put('jobs/a/weights/0000000001.bin', new Uint8Array([1, 2, 4]));
    const error = await getVerified(store, 'jobs/a/weights/0000000001.bin', sha).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect(error).toMatchObject({ code: 'ChecksumMismatch', key: 'jobs/a/weights/0000000001.bin', expectedSha256: sha, transient: false });
    expect((error as Error).message).toContain('jobs/a/weights/0000000001.bin');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
