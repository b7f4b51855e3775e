import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidKeyError } from './errors/invalid-key-error';
import { ObjectNotFoundError } from './errors/object-not-found-error';
import { StoreError } from './errors/store-error';
import type { ObjectStore } from './object-store';
import { openStore } from './open-store';

describe('local store', () => {
  let dir: string;
  let store: ObjectStore;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-local-store-'));
    store = openStore(join(dir, 'root'), { env: {} });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('maps key K to the file DIR/K and round-trips bytes and strings', async () => {
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);
    await store.put('jobs/a/weights/0000000001.bin', bytes);
    await store.put('jobs/a/spec.json', '{"name":"é"}');
    expect(existsSync(join(dir, 'root', 'jobs', 'a', 'weights', '0000000001.bin'))).toBe(true);
    expect(await store.get('jobs/a/weights/0000000001.bin')).toEqual(bytes);
    expect(new TextDecoder().decode(await store.get('jobs/a/spec.json'))).toBe('{"name":"é"}');
    expect(await store.head('jobs/a/spec.json')).toEqual({ size: Buffer.byteLength('{"name":"é"}') });
  });

  it('returns plain Uint8Arrays whose slice copies', async () => {
    await store.put('k', new Uint8Array([1, 2, 3]));
    const bytes = await store.get('k');
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  });

  it('accepts file:// URLs and reports a file:// url', async () => {
    const viaUrl = openStore(pathToFileURL(join(dir, 'root')).href, { env: {} });
    await store.put('x', 'same directory');
    expect(new TextDecoder().decode(await viaUrl.get('x'))).toBe('same directory');
    expect(viaUrl.url).toBe(store.url);
    expect(store.url).toBe(pathToFileURL(join(dir, 'root')).href);
    await viaUrl.close();
  });

  it('reads byte ranges, end exclusive, and refuses ranges past the end', async () => {
    await store.put(
      'r',
      Uint8Array.from({ length: 100 }, (_, i) => i),
    );
    expect(await store.getRange('r', 10, 15)).toEqual(new Uint8Array([10, 11, 12, 13, 14]));
    expect(await store.getRange('r', 100, 100)).toEqual(new Uint8Array(0));
    expect(await store.getRange('r', 0, 100)).toHaveLength(100);
    await expect(store.getRange('r', 90, 101)).rejects.toMatchObject({ code: 'InvalidRange', transient: false });
    await expect(store.getRange('r', 5, 4)).rejects.toMatchObject({ code: 'InvalidRange' });
    await expect(store.getRange('r', -1, 4)).rejects.toMatchObject({ code: 'InvalidRange' });
  });

  it('throws ObjectNotFoundError for missing keys, directories and keys below files', async () => {
    await store.put('dir/file', 'x');
    for (const key of ['missing', 'dir', 'dir/file/below']) {
      const error = await store.get(key).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect(error).toMatchObject({ code: 'NotFound', operation: 'get', key });
    }
    await expect(store.getRange('missing', 0, 0)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await store.head('missing')).toBeNull();
    expect(await store.head('dir')).toBeNull();
  });

  it('lists every key under a plain string prefix, sorted, without temporary files', async () => {
    const keys = ['b/2', 'a/1', 'a/10/x', 'a/2', 'ab', 'c'];
    for (const key of keys) await store.put(key, key);
    // A crashed writer's leftover must not show up as an object.
    writeFileSync(join(dir, 'root', 'a', '.lstm-tmp-deadbeef'), 'partial');
    expect(await store.list('')).toEqual(['a/1', 'a/10/x', 'a/2', 'ab', 'b/2', 'c']);
    expect(await store.list('a/')).toEqual(['a/1', 'a/10/x', 'a/2']);
    expect(await store.list('a')).toEqual(['a/1', 'a/10/x', 'a/2', 'ab']);
    expect(await store.list('a/1')).toEqual(['a/1', 'a/10/x']);
    expect(await store.list('nothing/here/')).toEqual([]);
  });

  it('lists nothing in a store whose directory does not exist yet', async () => {
    expect(await store.list('')).toEqual([]);
  });

  it('replaces objects atomically and leaves no temporary files', async () => {
    await store.put('w', new Uint8Array(1000).fill(1));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put('w', new Uint8Array(1000).fill(i + 1))));
    const bytes = await store.get('w');
    expect(bytes).toHaveLength(1000);
    expect(new Set(bytes).size).toBe(1);
    expect(readdirSync(join(dir, 'root'))).toEqual(['w']);
  });

  it('deletes objects, tolerates missing ones and removes emptied directories', async () => {
    await store.put('jobs/a/grads/1/2/0.bin', 'g');
    await store.put('jobs/a/spec.json', 's');
    await store.delete('jobs/a/grads/1/2/0.bin');
    await store.delete('jobs/a/grads/1/2/0.bin');
    await store.delete('never/was');
    expect(await store.head('jobs/a/grads/1/2/0.bin')).toBeNull();
    expect(readdirSync(join(dir, 'root', 'jobs', 'a'))).toEqual(['spec.json']);
    await store.delete('jobs/a/spec.json');
    expect(readdirSync(join(dir, 'root'))).toEqual([]);
  });

  it('keeps puts working while deletes empty the same directories', async () => {
    const rounds = Array.from({ length: 30 }, async (_, i) => {
      await store.put(`d/e/${i}`, 'x');
      await store.delete(`d/e/${i}`);
    });
    await Promise.all(rounds);
    await store.put('d/e/last', 'y');
    expect(await store.list('d/')).toEqual(['d/e/last']);
  });

  it('rejects keys that could escape the directory or do not port to S3', async () => {
    const bad = ['', '/abs', '../up', 'a/../b', 'a//b', 'a/', './a', 'a\\b', 'a/.lstm-tmp-x', 'nul\u0000', 'x'.repeat(1025)];
    for (const key of bad) {
      const error = await store.put(key, 'x').catch((e: unknown) => e);
      expect(error, JSON.stringify(key)).toBeInstanceOf(InvalidKeyError);
      expect(error).toMatchObject({ code: 'InvalidKey', transient: false });
    }
    await expect(store.list('../')).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(store.get('a/../../etc/passwd')).rejects.toBeInstanceOf(InvalidKeyError);
    expect(existsSync(join(dir, 'up'))).toBe(false);
  });

  it('reports a write below a file as a permanent StoreError', async () => {
    mkdirSync(join(dir, 'root'), { recursive: true });
    writeFileSync(join(dir, 'root', 'file'), 'x');
    const error = await store.put('file/below', 'y').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ operation: 'put', key: 'file/below', transient: false, attempts: 1 });
  });

  it('closes idempotently and refuses calls afterwards', async () => {
    await store.close();
    await store.close();
    await expect(store.get('k')).rejects.toMatchObject({ code: 'Closed' });
  });
});
