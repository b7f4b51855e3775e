import { describe, expect, it } from 'vitest';
import { jobLatestKey } from '@lstm-runner/protocol';
import { MemoryStore } from '../../../test-support/dataset-fixtures';
import type { JobPointer } from './job-pointer';
import { StoredObjectError } from './errors/stored-object-error';
import { jobStatus, pollJobStatus } from './job-status';
import { writeStoredJson } from './stored-json';

const pointer: JobPointer = {
  version: 1,
  id: 'job-1',
  name: 'sensors',
  state: 'completed',
  generation: 1,
  fencingToken: 1,
  checkpoint: { step: 4, prefix: 'jobs/job-1/checkpoints/0000000004-t1/' },
  totalSteps: 4,
  updatedAt: '2026-11-30T00:00:00.000Z',
};

async function statusOf(written: JobPointer): Promise<boolean> {
  const store = new MemoryStore();
  await writeStoredJson(store, jobLatestKey(written.id), written);
  return (await jobStatus(store, written.id)).publishing;
}

describe('jobStatus', () => {
  it('says a completed job is publishing until its model version is written', async () => {
    expect(await statusOf({ ...pointer, published: false })).toBe(true);
    expect(await statusOf({ ...pointer, published: true })).toBe(false);
    // Pointers of earlier releases have no such field: their models were written.
    expect(await statusOf(pointer)).toBe(false);
    expect(await statusOf({ ...pointer, state: 'running', published: false })).toBe(false);
  });

  it('polls through a torn read of the pointer, and reports one that stays torn', async () => {
    const store = new MemoryStore();
    await writeStoredJson(store, jobLatestKey(pointer.id), pointer);
    const whole = await store.get(jobLatestKey(pointer.id));
    let tornReads = 1;
    const tearing = Object.assign(Object.create(store) as MemoryStore, {
      get: async (key: string) => (key === jobLatestKey(pointer.id) && tornReads-- > 0 ? whole.subarray(0, 50) : store.get(key)),
    });
    await expect(jobStatus(tearing, pointer.id)).rejects.toThrow(StoredObjectError);
    tornReads = 1;
    await expect(pollJobStatus(tearing, pointer.id, 3, 1)).resolves.toMatchObject({ state: 'completed' });
    tornReads = 3;
    await expect(pollJobStatus(tearing, pointer.id, 3, 1)).rejects.toThrow(/not valid JSON/);
  });
});
