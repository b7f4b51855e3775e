import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checksumOf, getChecked, getVerified, putChecked, sha256Hex } from './checksum';
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
    expect(error).toMatchObject({
      code: 'ChecksumMismatch',
      key: 'jobs/a/weights/0000000001.bin',
      expected: `sha256 ${sha}`,
      transient: false,
    });
    expect((error as Error).message).toContain('jobs/a/weights/0000000001.bin');
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names the algorithm in a checksum and checks bytes against either', async () => {
    expect(checksumOf('crc32', new TextEncoder().encode('123456789'))).toBe('crc32:cbf43926');
    expect(checksumOf('sha256', new TextEncoder().encode('abc'))).toBe(`sha256:${sha256Hex('abc')}`);
    const dir = mkdtempSync(join(tmpdir(), 'lstm-checksum-'));
    const store = openStore(dir, { env: {} });
    const key = 'jobs/a/grads/000001/0000000001/000000.bin';
    await store.put(key, new Uint8Array([1, 2, 3]));
    for (const algorithm of ['crc32', 'sha256'] as const) {
      const checksum = checksumOf(algorithm, new Uint8Array([1, 2, 3]));
      expect(await getChecked(store, key, checksum)).toEqual(new Uint8Array([1, 2, 3]));
      const error = await getChecked(store, key, checksumOf(algorithm, new Uint8Array([1, 2, 4]))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ChecksumMismatchError);
      expect(error).toMatchObject({ key, actual: checksum });
    }
    await expect(getChecked(store, key, 'md5:00')).rejects.toThrow(RangeError);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
