import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { faultFileFromEnv, FileControlledFaults, INJECT_STORE_FAULTS_FILE_ENV } from './fault-control-file';
import { LocalStore } from './local-store';
import { openStore } from './open-store';

describe('FileControlledFaults', () => {
  let dir: string;
  let control: string;
  let local: LocalStore;

  /** As a driver writes it: a temporary file renamed over the control file. */
  const writeControl = (text: string): void => {
    writeFileSync(`${control}.tmp`, text);
    renameSync(`${control}.tmp`, control);
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-fault-file-'));
    control = join(dir, 'faults.json');
    local = new LocalStore(join(dir, 'store'));
    await local.put('spec', 's');
  });

  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('injects nothing while the file is missing or empty', async () => {
    const store = new FileControlledFaults(local, control, 0);
    await expect(store.get('spec')).resolves.toBeDefined();
    writeControl('  \n');
    await expect(store.get('spec')).resolves.toBeDefined();
    expect(store.injectedFaults).toBe(0);
  });

  it('arms each new plan the file holds, and disarms when it is emptied', async () => {
    const store = new FileControlledFaults(local, control, 0);
    writeControl('{"failFirst": 2}');
    await expect(store.get('spec')).rejects.toMatchObject({ code: 'InjectedFault', transient: true });
    await expect(store.put('x', 'y')).rejects.toMatchObject({ code: 'InjectedFault' });
    await expect(store.get('spec')).resolves.toBeDefined();
    // The same text again is the same plan: nothing new.
    writeControl('{"failFirst": 2}');
    await expect(store.get('spec')).resolves.toBeDefined();
    // A new plan re-arms.
    writeControl('{"failFirst": 1, "match": "spec"}');
    await expect(store.head('x')).resolves.toBeNull();
    await expect(store.get('spec')).rejects.toMatchObject({ code: 'InjectedFault' });
    writeControl('{"failForMs": 60000}');
    await expect(store.head('spec')).rejects.toMatchObject({ code: 'InjectedFault' });
    writeControl('');
    await expect(store.head('spec')).resolves.toEqual({ size: 1 });
  });

  it('starts a plan at its wall-clock start, whenever the file was read', async () => {
    const store = new FileControlledFaults(local, control, 0);
    writeControl(JSON.stringify({ startsAtMs: Date.now() - 60_000, failForMs: 1000 }));
    await expect(store.get('spec')).resolves.toBeDefined();
    writeControl(JSON.stringify({ startsAtMs: Date.now() - 100, failForMs: 60_000 }));
    await expect(store.get('spec')).rejects.toMatchObject({ code: 'InjectedFault' });
  });

  it('reads the file at most every checkEveryMs', async () => {
    const store = new FileControlledFaults(local, control, 60_000);
    await store.get('spec');
    writeControl('{"failFirst": 1}');
    await expect(store.get('spec')).resolves.toBeDefined();
  });

  it('says once that a plan is unusable and injects nothing', async () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const store = new FileControlledFaults(local, control, 0);
    writeControl('{"failfirst": 1}');
    await expect(store.get('spec')).resolves.toBeDefined();
    await expect(store.get('spec')).resolves.toBeDefined();
    expect(write).toHaveBeenCalledTimes(1);
    expect(write).toHaveBeenCalledWith(expect.stringContaining("unknown field 'failfirst'"));
  });

  it(`is what openStore wraps its store in, inside the retries, when ${INJECT_STORE_FAULTS_FILE_ENV} is set`, async () => {
    expect(faultFileFromEnv({})).toBeUndefined();
    expect(faultFileFromEnv({ [INJECT_STORE_FAULTS_FILE_ENV]: '' })).toBeUndefined();
    const store = openStore(join(dir, 'store'), { env: { [INJECT_STORE_FAULTS_FILE_ENV]: control }, baseDelayMs: 1, maxDelayMs: 2 });
    writeControl('{"failFirst": 3}');
    await store.put('k', 'survived a burst');
    expect(new TextDecoder().decode(await store.get('k'))).toBe('survived a burst');
    await store.close();
  });
});
