import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from './errors/object-not-found-error';
import { StoreError } from './errors/store-error';
import { withFaults } from './faults';
import { LocalStore } from './local-store';
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from './retry';
import { RetryingStore } from './retrying-store';

const fast: RetryOptions = { ...DEFAULT_RETRY_OPTIONS, attempts: 4, baseDelayMs: 1, maxDelayMs: 4, timeoutMs: 2000 };

describe('RetryingStore', () => {
  let dir: string;
  let local: LocalStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-retry-'));
    local = new LocalStore(dir);
    await local.put('k', 'value');
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries transient failures until a call succeeds', async () => {
    const faulty = withFaults(local, { failFirst: 3 });
    const store = new RetryingStore(faulty, fast);
    expect(new TextDecoder().decode(await store.get('k'))).toBe('value');
    expect(faulty.injectedFaults).toBe(3);
    await store.close();
  });

  it('gives up after the configured attempts with the last error and the attempt count', async () => {
    const faulty = withFaults(local, { failFirst: 10 });
    const store = new RetryingStore(faulty, fast);
    const error = await store.put('k', 'new').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'InjectedFault', transient: true, attempts: 4, operation: 'put', key: 'k' });
    expect((error as Error).message).toContain('after 4 attempts');
    expect(faulty.injectedFaults).toBe(4);
    await store.close();
  });

  it('does not retry a missing key or an invalid key', async () => {
    const faulty = withFaults(local, { failFirst: 1, operations: ['head'] });
    const store = new RetryingStore(faulty, fast);
    await expect(store.get('missing')).rejects.toMatchObject({ code: 'NotFound', attempts: 1 });
    await expect(store.get('../x')).rejects.toMatchObject({ code: 'InvalidKey', attempts: 1 });
    expect(faulty.injectedFaults).toBe(0);
    await store.close();
  });

  it('reports a missing key met on a retry as ObjectNotFoundError', async () => {
    const store = new RetryingStore(withFaults(local, { failFirst: 1 }), fast);
    const error = await store.get('missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectNotFoundError);
    await store.close();
  });

  it('times out a hanging attempt and retries it', async () => {
    const faulty = withFaults(local, { failFirst: 2, mode: 'hang' });
    const store = new RetryingStore(faulty, { ...fast, timeoutMs: 50 });
    expect(new TextDecoder().decode(await store.get('k'))).toBe('value');
    expect(faulty.injectedFaults).toBe(2);
    await store.close();
  });

  it('reports a call that hangs on every attempt as a Timeout', async () => {
    const store = new RetryingStore(withFaults(local, { mode: 'hang' }), { ...fast, attempts: 2, timeoutMs: 30 });
    await expect(store.list('')).rejects.toMatchObject({ code: 'Timeout', transient: true, attempts: 2 });
    await store.close();
  });

  it("bounds a call's whole retry budget: a store that hangs on every attempt costs at most budgetMs", async () => {
    const faulty = withFaults(local, { mode: 'hang' });
    // Six attempts of 1 s each would take 6 s; the budget gives up after 120 ms of them.
    const store = new RetryingStore(faulty, { ...fast, attempts: 6, timeoutMs: 1000, budgetMs: 120 });
    const error = await store.get('k').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'Timeout', transient: true, attempts: 1 });
    expect((error as Error).message).toContain("gave up when the call's budget of 120 ms ran out");
    expect(faulty.injectedFaults).toBe(1);
    await store.close();
  });

  it('fails calls waiting in a backoff at once when closed', async () => {
    const store = new RetryingStore(withFaults(local, {}), { ...fast, baseDelayMs: 60_000, maxDelayMs: 60_000 });
    const pending = store.get('k').catch((e: unknown) => e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.close();
    expect(await pending).toMatchObject({ code: 'Closed' });
  });
});
