// The S3 store's contract, against a real S3-compatible server, through openStore as the
// apps use it: by default the s3rver the global setup starts; with LSTM_TEST_S3_ENDPOINT
// (and LSTM_TEST_S3_BUCKET, and the AWS credential chain) any other one, MinIO or AWS, so
// that operators can check theirs. Every test works under its own prefix and removes what it
// wrote. s3rver ignores If-Match / If-None-Match: the conditional-write refusals are checked
// only against another server.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { getVerified, ObjectNotFoundError, openStore, putChecked, StoreError, type ObjectStore, type OpenStoreOptions } from '../src/index';

const external = process.env['LSTM_TEST_S3_ENDPOINT'];
const endpoint = external ?? inject('s3Endpoint');
const bucket = external === undefined ? inject('s3Bucket') : (process.env['LSTM_TEST_S3_BUCKET'] ?? 'lstm-test');
const opened: ObjectStore[] = [];

/** A store under a fresh prefix, closed and emptied after the test. */
function freshStore(options: OpenStoreOptions = {}): ObjectStore {
  const store = openStore(`s3://${bucket}/storage-test-${randomUUID()}`, { endpoint, baseDelayMs: 5, maxDelayMs: 20, ...options });
  opened.push(store);
  return store;
}

/** Deterministic, incompressible-looking bytes. */
function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address !== null ? address.port : 1;
}

beforeAll(() => {
  if (external !== undefined) return;
  // s3rver's one account; the store finds it through the SDK's standard credential chain.
  process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
  process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
});

afterEach(async () => {
  for (const store of opened.splice(0)) {
    for (const key of await store.list('').catch(() => [])) await store.delete(key);
    await store.close();
  }
});

describe('S3 store on s3rver', () => {
  it('puts, gets, heads, lists and deletes objects', async () => {
    const store = freshStore();
    expect(store.url).toMatch(new RegExp(`^s3://${bucket}/storage-test-`));
    await store.put('jobs/a/spec.json', '{"name":"moby"}');
    await store.put('jobs/a/weights/0000000001.bin', new Uint8Array([1, 2, 3, 4, 5]));
    await store.put('jobs/b/spec.json', '{}');
    expect(new TextDecoder().decode(await store.get('jobs/a/spec.json'))).toBe('{"name":"moby"}');
    expect(await store.getRange('jobs/a/weights/0000000001.bin', 1, 4)).toEqual(new Uint8Array([2, 3, 4]));
    expect(await store.getRange('jobs/a/weights/0000000001.bin', 5, 5)).toEqual(new Uint8Array(0));
    expect(await store.head('jobs/a/weights/0000000001.bin')).toEqual({ size: 5 });
    expect(await store.list('jobs/a/')).toEqual(['jobs/a/spec.json', 'jobs/a/weights/0000000001.bin']);
    expect(await store.list('jobs/')).toHaveLength(3);
    await store.delete('jobs/a/spec.json');
    await store.delete('jobs/a/spec.json');
    expect(await store.head('jobs/a/spec.json')).toBeNull();
    expect(await store.list('')).toEqual(['jobs/a/weights/0000000001.bin', 'jobs/b/spec.json']);
  });

  it('keeps stores with different prefixes apart', async () => {
    const one = freshStore();
    const two = freshStore();
    await one.put('k', 'one');
    expect(await two.head('k')).toBeNull();
    expect(await two.list('')).toEqual([]);
  });

  it('round-trips a few MB of binary byte for byte (no aws-chunked framing)', async () => {
    const store = freshStore();
    const bytes = patternBytes(5 * 1024 * 1024 + 123, 42);
    const sha = await putChecked(store, 'jobs/a/checkpoints/0000000050/weights.bin', bytes);
    expect(await store.head('jobs/a/checkpoints/0000000050/weights.bin')).toEqual({ size: bytes.length });
    const back = await getVerified(store, 'jobs/a/checkpoints/0000000050/weights.bin', sha);
    expect(Buffer.compare(back, bytes)).toBe(0);
    const middle = await store.getRange('jobs/a/checkpoints/0000000050/weights.bin', 1_000_000, 3_000_001);
    expect(Buffer.compare(middle, bytes.subarray(1_000_000, 3_000_001))).toBe(0);
    // A view into a larger buffer uploads only its own bytes; empty objects work too.
    await store.put('view.bin', bytes.subarray(10, 20));
    expect(await store.get('view.bin')).toEqual(bytes.slice(10, 20));
    await store.put('empty.bin', new Uint8Array(0));
    expect(await store.get('empty.bin')).toEqual(new Uint8Array(0));
  });

  it('lists across many pages', async () => {
    const store = freshStore({ listPageSize: 7 });
    const keys = Array.from({ length: 40 }, (_, i) => `grads/${String(i).padStart(3, '0')}.bin`);
    await Promise.all(keys.map((key) => store.put(key, key)));
    await store.put('other/x', 'x');
    expect(await store.list('grads/')).toEqual(keys);
    expect(await store.list('')).toEqual([...keys, 'other/x']);
  });

  it('reports missing keys as ObjectNotFoundError and bad ranges as InvalidRange', async () => {
    const store = freshStore();
    for (const call of [() => store.get('nope'), () => store.getRange('nope', 0, 10), () => store.getRange('nope', 0, 0)]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect(error).toMatchObject({ code: 'NotFound', key: 'nope', attempts: 1 });
    }
    expect(await store.head('nope')).toBeNull();
    await store.delete('nope');
    await store.put('short', new Uint8Array(10));
    await expect(store.getRange('short', 5, 11)).rejects.toMatchObject({ code: 'InvalidRange', transient: false });
    await expect(store.getRange('short', 10, 12)).rejects.toMatchObject({ code: 'InvalidRange', transient: false });
    await expect(store.getRange('short', 11, 11)).rejects.toMatchObject({ code: 'InvalidRange' });
    await expect(store.put('../escape', 'x')).rejects.toMatchObject({ code: 'InvalidKey' });
  });

  it('retries injected transient failures and hangs until the calls succeed', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const store = freshStore({ faults: { failFirst: 3, match: 'weights/', log: true } });
    await store.put('weights/0000000001.bin', patternBytes(1000, 1));
    expect(await store.get('weights/0000000001.bin')).toEqual(patternBytes(1000, 1));
    const injected = write.mock.calls.filter(([line]) => String(line).startsWith('lstm-store-faults:'));
    expect(injected).toHaveLength(3);
    write.mockRestore();

    const hanging = freshStore({ timeoutMs: 200, faults: { failFirst: 2, mode: 'hang' } });
    await hanging.put('k', 'after two timeouts');
    expect(new TextDecoder().decode(await hanging.get('k'))).toBe('after two timeouts');
  });

  it('retries an unreachable endpoint and then fails with a transient error', async () => {
    const port = await closedPort();
    const store = freshStore({ endpoint: `http://127.0.0.1:${port}`, attempts: 3 });
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'Unavailable', transient: true, attempts: 3 });
  });

  it('never shows credentials in errors or the url', async () => {
    const accessKeyId = 'AKIAWRONGKEYID123456';
    const secretAccessKey = 'wrong-secret-d41d8cd98f00b204e980';
    const store = freshStore({ credentials: { accessKeyId, secretAccessKey } });
    const error = await store.put('k', 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'Rejected', transient: false, attempts: 1 });
    const seen = [store.url, String(error), (error as Error).stack, inspect(error, { depth: 10 }), JSON.stringify(error)].join('\n');
    expect(seen).not.toContain(secretAccessKey);
    expect(seen).not.toContain(accessKeyId);
  });

  it('offers a compare-and-set: versions from getVersioned, writes that name the version they read', async () => {
    const store = freshStore();
    expect(await store.getVersioned('pointer.json')).toBeNull();
    expect(await store.putIfVersion('pointer.json', 'one', null)).toBe(true);
    const first = await store.getVersioned('pointer.json');
    expect(new TextDecoder().decode(first!.body)).toBe('one');
    expect(first!.version).not.toBe('');
    expect(await store.putIfVersion('pointer.json', 'two', first!.version)).toBe(true);
    const second = await store.getVersioned('pointer.json');
    expect(second!.version).not.toBe(first!.version);
    if (external === undefined) return;
    // Refusals: only a server that honours the conditions (not s3rver).
    expect(await store.putIfVersion('pointer.json', 'stale', first!.version)).toBe(false);
    expect(await store.putIfVersion('pointer.json', 'again', null)).toBe(false);
    expect(new TextDecoder().decode(await store.get('pointer.json'))).toBe('two');
  });
});
