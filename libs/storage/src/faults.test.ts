import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StoreConfigError } from './errors/store-config-error';
import { faultPlanFromEnv, INJECT_STORE_FAULTS_ENV, validateFaultPlan, withFaults } from './faults';
import { LocalStore } from './local-store';
import { openStore } from './open-store';

describe('withFaults', () => {
  let dir: string;
  let local: LocalStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-faults-'));
    local = new LocalStore(dir);
    await local.put('weights/1', 'w');
    await local.put('spec', 's');
  });

  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails the first N matching calls with a transient error, then passes calls through', async () => {
    const store = withFaults(local, { failFirst: 2, match: 'weights/' });
    await expect(store.get('spec')).resolves.toBeDefined();
    await expect(store.get('weights/1')).rejects.toMatchObject({ code: 'InjectedFault', transient: true, key: 'weights/1' });
    await expect(store.head('weights/1')).rejects.toMatchObject({ code: 'InjectedFault', operation: 'head' });
    await expect(store.get('weights/1')).resolves.toBeDefined();
    expect(store.injectedFaults).toBe(2);
  });

  it('fails only the chosen operations', async () => {
    const store = withFaults(local, { operations: ['put', 'list'] });
    await expect(store.get('spec')).resolves.toBeDefined();
    await expect(store.put('x', 'y')).rejects.toMatchObject({ code: 'InjectedFault' });
    await expect(store.list('')).rejects.toMatchObject({ code: 'InjectedFault', operation: 'list' });
  });

  it('fails every matching call inside a time window that starts after afterMs', async () => {
    vi.useFakeTimers({ now: 0 });
    const store = withFaults(local, { afterMs: 100, failForMs: 200 });
    await expect(store.get('spec')).resolves.toBeDefined();
    vi.setSystemTime(150);
    await expect(store.get('spec')).rejects.toMatchObject({ code: 'InjectedFault' });
    await expect(store.get('spec')).rejects.toMatchObject({ code: 'InjectedFault' });
    vi.setSystemTime(300);
    await expect(store.get('spec')).resolves.toBeDefined();
  });

  it('hangs for hangMs and then fails', async () => {
    const store = withFaults(local, { failFirst: 1, mode: 'hang', hangMs: 10 });
    await expect(store.get('spec')).rejects.toMatchObject({ code: 'InjectedFault', detail: 'injected hang #1 ended' });
  });

  it('ends hangs without an end when the store closes', async () => {
    const store = withFaults(local, { mode: 'hang' });
    const pending = store.get('spec').catch((e: unknown) => e);
    await store.close();
    expect(await pending).toMatchObject({ code: 'InjectedFault' });
  });

  it('writes one line per fault to stderr when asked to', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const store = withFaults(local, { failFirst: 1, log: true });
    await store.get('spec').catch(() => undefined);
    expect(write).toHaveBeenCalledWith(expect.stringContaining("lstm-store-faults: injected error #1 into get 'spec'"));
    write.mockRestore();
  });
});

describe('fault plans', () => {
  it.each([
    [{ failFirst: -1 }, 'failFirst'],
    [{ failFirst: 1.5 }, 'failFirst'],
    [{ failfirst: 5 }, "unknown field 'failfirst'"],
    [{ operations: ['fetch'] }, 'operations'],
    [{ mode: 'crash' }, 'mode'],
    [{ match: 3 }, 'match'],
    [[], 'must be an object'],
  ])('rejects %j', (plan, problem) => {
    expect(() => validateFaultPlan(plan)).toThrow(StoreConfigError);
    expect(() => validateFaultPlan(plan)).toThrow(problem);
  });

  it(`reads ${INJECT_STORE_FAULTS_ENV} as JSON`, () => {
    expect(faultPlanFromEnv({})).toBeUndefined();
    expect(faultPlanFromEnv({ [INJECT_STORE_FAULTS_ENV]: ' ' })).toBeUndefined();
    expect(faultPlanFromEnv({ [INJECT_STORE_FAULTS_ENV]: '{"failFirst":5,"match":"weights/"}' })).toEqual({
      failFirst: 5,
      match: 'weights/',
    });
    expect(() => faultPlanFromEnv({ [INJECT_STORE_FAULTS_ENV]: '{failFirst:5}' })).toThrow(/LSTM_INJECT_STORE_FAULTS is not valid JSON/);
  });

  it('makes openStore inject faults inside its retries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lstm-faults-env-'));
    const env = { [INJECT_STORE_FAULTS_ENV]: '{"failFirst":2,"operations":["put"]}' };
    const store = openStore(dir, { env, baseDelayMs: 1, maxDelayMs: 2 });
    await store.put('k', 'survived two faults');
    expect(new TextDecoder().decode(await store.get('k'))).toBe('survived two faults');
    const failing = openStore(dir, { env, attempts: 2, baseDelayMs: 1, maxDelayMs: 2 });
    await expect(failing.put('k', 'x')).rejects.toMatchObject({ code: 'InjectedFault', attempts: 2 });
    await store.close();
    await failing.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
