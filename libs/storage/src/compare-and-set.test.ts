// The compare-and-set every store offers (getVersioned + putIfVersion): what fences a stale
// coordinator's writes to the job pointer. The local store is tested here with concurrent
// writers; S3's conditional writes in test/s3-store.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStore } from './local-store';

let dir: string;
let store: LocalStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cas-'));
  store = new LocalStore(dir);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('LocalStore compare-and-set', () => {
  it('creates only when missing, replaces only the version it read', async () => {
    expect(await store.getVersioned('a/pointer.json')).toBeNull();
    expect(await store.putIfVersion('a/pointer.json', 'one', null)).toBe(true);
    expect(await store.putIfVersion('a/pointer.json', 'again', null)).toBe(false);
    const first = await store.getVersioned('a/pointer.json');
    expect(new TextDecoder().decode(first!.body)).toBe('one');
    expect(await store.putIfVersion('a/pointer.json', 'two', first!.version)).toBe(true);
    expect(await store.putIfVersion('a/pointer.json', 'three', first!.version)).toBe(false);
    expect(new TextDecoder().decode(await store.get('a/pointer.json'))).toBe('two');
    // The lock files never show in listings.
    expect(await store.list('a/')).toEqual(['a/pointer.json']);
  });

  it('loses no update when many writers increment one object at once', async () => {
    await store.put('counter', '0');
    const increment = async (): Promise<void> => {
      for (;;) {
        const current = (await store.getVersioned('counter'))!;
        const next = String(Number(new TextDecoder().decode(current.body)) + 1);
        if (await store.putIfVersion('counter', next, current.version)) return;
      }
    };
    await Promise.all(Array.from({ length: 40 }, increment));
    expect(new TextDecoder().decode(await store.get('counter'))).toBe('40');
  });
});
