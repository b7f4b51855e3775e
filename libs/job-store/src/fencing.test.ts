// What fences a coordinator that stalled past its lease: the job pointer and the model
// pointers move only by compare-and-set against the writer's fencing token, and a later
// owner's metrics replace an earlier owner's from the step it resumed at.
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../test-support/dataset-fixtures';
import { StaleOwnerError } from './errors/stale-owner-error';
import { readJobPointer, updateJobPointer, type JobPointer } from './job-pointer';
import { readLastMetric, readMetrics, writeMetricsChunk, type MetricRecord } from './metrics';
import { publishModelPointer, readModelPointer, type ModelPointer } from './model-pointer';

function pointer(token: number, state: JobPointer['state'] = 'running'): JobPointer {
  return {
    version: 1,
    id: 'job',
    name: 'job',
    state,
    generation: token,
    fencingToken: token,
    checkpoint: null,
    totalSteps: 10,
    updatedAt: 'now',
  };
}

function record(step: number, trainLoss: number): MetricRecord {
  return {
    step,
    epoch: 0,
    trainLoss,
    validationLoss: null,
    lastValidationLoss: null,
    windowsPerSecond: 1,
    stepMs: 1,
    shardComputeMs: 1,
    wallTimeMs: 1,
    time: 'now',
  };
}

describe('fencing', () => {
  it("refuses a pointer write of a stale owner and keeps the newer owner's pointer", async () => {
    const store = new MemoryStore();
    await updateJobPointer(store, 'job', 3, () => pointer(3));
    await updateJobPointer(store, 'job', 5, () => pointer(5));
    await expect(updateJobPointer(store, 'job', 3, () => pointer(3, 'completed'))).rejects.toBeInstanceOf(StaleOwnerError);
    expect(await readJobPointer(store, 'job')).toMatchObject({ fencingToken: 5, state: 'running' });
    // The owner itself (same token) and a later one may write.
    await updateJobPointer(store, 'job', 5, () => pointer(5, 'completed'));
    expect((await readJobPointer(store, 'job'))?.state).toBe('completed');
  });

  it('reads again when another writer got there between its read and its write', async () => {
    const store = new MemoryStore();
    await updateJobPointer(store, 'job', null, () => pointer(1));
    let calls = 0;
    const result = await updateJobPointer(store, 'job', 2, (current) => {
      calls += 1;
      // The first time round, a newer owner writes after our read: the write must not land on it.
      if (calls === 1) void store.put('jobs/job/latest.json', JSON.stringify(pointer(4)));
      return { ...current!, fencingToken: 2 };
    }).catch((error: unknown) => error);
    expect(result).toBeInstanceOf(StaleOwnerError);
    expect(calls).toBe(1);
    expect((await readJobPointer(store, 'job'))?.fencingToken).toBe(4);
  });

  it("shows a later owner's metrics from the step it resumed at, whatever an earlier owner writes late", async () => {
    const store = new MemoryStore();
    await writeMetricsChunk(store, 'job', 0, 1, [record(1, 1), record(2, 2), record(3, 3)]);
    // Owner 2 resumed from the checkpoint at step 2...
    await writeMetricsChunk(store, 'job', 2, 2, [record(3, 30), record(4, 40)]);
    // ...and owner 1, stalled until now, writes its late chunk from its checkpoint at 3.
    await writeMetricsChunk(store, 'job', 3, 1, [record(4, 99), record(5, 99), record(6, 99)]);
    expect((await readMetrics(store, 'job')).map((m) => [m.step, m.trainLoss])).toEqual([
      [1, 1],
      [2, 2],
      [3, 30],
      [4, 40],
    ]);
    expect((await readLastMetric(store, 'job'))?.trainLoss).toBe(40);
  });

  it('never moves a model pointer back to an older owner of the same job', async () => {
    const store = new MemoryStore();
    const model = (jobId: string, token: number, validationLoss: number): ModelPointer => ({
      name: 'm',
      jobId,
      checkpoint: `jobs/${jobId}/checkpoints/0000000010-t${token}/`,
      step: 10,
      datasetId: 'd',
      validationLoss,
      fencingToken: token,
      updatedAt: 'now',
    });
    expect(await publishModelPointer(store, 'latest', model('a', 5, 1))).toBe(true);
    expect(await publishModelPointer(store, 'latest', model('a', 4, 1))).toBe(false);
    expect((await readModelPointer(store, 'm', 'latest'))?.fencingToken).toBe(5);
    // Another job's run publishes over it (the last completed run wins).
    expect(await publishModelPointer(store, 'latest', model('b', 1, 2))).toBe(true);
    // best.json only moves to a lower loss.
    await publishModelPointer(store, 'best', model('a', 5, 1), (current) => current === null || 1 < (current.validationLoss ?? Infinity));
    expect(
      await publishModelPointer(store, 'best', model('b', 1, 2), (current) => current === null || 2 < (current.validationLoss ?? Infinity)),
    ).toBe(false);
  });
});
