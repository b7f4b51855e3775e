import { afterEach, describe, expect, it } from 'vitest';
import type { GradientJobData } from '@lstm-runner/protocol';
import { ComputeThreadError } from '../errors/compute-thread-error';
import { ComputePool } from './compute-pool';

const entry = new URL('../../../../test-support/threads/misbehaving-compute-thread.mjs', import.meta.url);
const thread = {
  storeUrl: 'unused',
  cacheDir: 'unused',
  cacheMaxBytes: 1,
  profile: { backend: 'wasm', threads: 1 },
  injectedShardDelayMs: 0,
};

function task(shard: number): GradientJobData {
  return {
    jobId: 'j',
    generation: 1,
    step: 0,
    epoch: 0,
    stepInEpoch: 0,
    shard,
    kind: 'validate',
    weightsKey: 'w',
    weightsSha256: 'x',
    datasetId: 'd',
  };
}

let pool: ComputePool | undefined;
afterEach(async () => {
  await pool?.close();
});

describe('ComputePool', () => {
  it.each(['exit', 'throw'] as const)('fails the shard of a thread that dies (%s), replaces the thread, and goes on', async (how) => {
    const deaths: string[] = [];
    pool = new ComputePool({
      size: 1,
      entry,
      thread: { ...thread, dieOn: { 1: how } } as typeof thread,
      onThreadDeath: (reason) => deaths.push(reason),
    });
    await pool.ready();
    await expect(pool.compute(task(1))).rejects.toBeInstanceOf(ComputeThreadError);
    expect(deaths).toEqual([expect.stringMatching(how === 'exit' ? /exited with code 7/ : /crashed: shard 1 crashed the thread/)]);
    // The next shard goes to the replacement thread; so do shards queued behind the crash.
    const [a, b] = await Promise.all([pool.compute(task(2)), pool.compute(task(3))]);
    expect([a.loss, b.loss]).toEqual([2, 3]);
  });

  it('matches replies to requests: a second reply to an answered request is dropped', async () => {
    pool = new ComputePool({ size: 1, entry, thread });
    await pool.ready();
    expect((await pool.compute(task(99))).loss).toBe(99);
    // The late duplicate (loss -1) must not answer the next request.
    expect((await pool.compute(task(5))).loss).toBe(5);
  });

  it('fails to start when a thread dies before its backend loads, without replacing it forever', async () => {
    const broken = new URL('data:text/javascript,throw new Error("no backend here")');
    pool = new ComputePool({ size: 2, entry: broken, thread });
    await expect(pool.ready()).rejects.toThrow(/no backend here/);
  });
});
