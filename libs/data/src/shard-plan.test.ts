import { describe, expect, it } from 'vitest';
import { SHUFFLE_VERSION, ShardPlan, shufflePermutation } from './shard-plan';

const settings = { seed: 42, epochs: 3, batchSize: 128, shardSize: 32 };

describe('ShardPlan', () => {
  it('has version 1 of the shuffle', () => {
    expect(SHUFFLE_VERSION).toBe(1);
  });

  it('counts steps and shards, keeping the last partial batch and shard', () => {
    const plan = new ShardPlan(settings, { trainWindows: 1000, validationWindows: 70 });
    expect(plan.stepsPerEpoch).toBe(8);
    expect(plan.totalSteps).toBe(24);
    expect(plan.batchLength(7)).toBe(1000 - 7 * 128);
    expect(plan.shardsInStep(0)).toBe(4);
    expect(plan.shardsInStep(7)).toBe(Math.ceil(104 / 32));
    expect(plan.shardWindows({ epoch: 0, stepInEpoch: 7, shard: 3 }).length).toBe(104 - 96);
    expect(plan.validationShards).toBe(3);
    expect(Array.from(plan.validationShardWindows(2))).toEqual([64, 65, 66, 67, 68, 69]);
    expect(new ShardPlan({ ...settings, maxSteps: 10 }, { trainWindows: 1000, validationWindows: 0 }).totalSteps).toBe(10);
    expect(new ShardPlan({ ...settings, maxSteps: 100 }, { trainWindows: 1000, validationWindows: 0 }).totalSteps).toBe(24);
  });

  it('covers every training window exactly once per epoch, shard by shard', () => {
    const windows = 2345;
    const plan = new ShardPlan({ ...settings, batchSize: 100, shardSize: 30 }, { trainWindows: windows, validationWindows: 0 });
    for (let epoch = 0; epoch < 2; epoch++) {
      const seen = new Uint8Array(windows);
      for (let step = 0; step < plan.stepsPerEpoch; step++) {
        const batch: number[] = [];
        for (let shard = 0; shard < plan.shardsInStep(step); shard++) batch.push(...plan.shardWindows({ epoch, stepInEpoch: step, shard }));
        expect(batch).toEqual(Array.from(plan.batchWindows({ epoch, stepInEpoch: step })));
        for (const w of batch) seen[w]!++;
      }
      expect(seen.every((count) => count === 1)).toBe(true);
    }
  });

  it('is a pure function of the seed and epoch: the same seed gives the same plan, another epoch or seed another', () => {
    const a = new ShardPlan(settings, { trainWindows: 5000, validationWindows: 0 });
    const b = new ShardPlan(settings, { trainWindows: 5000, validationWindows: 0 });
    const ref = { epoch: 2, stepInEpoch: 5, shard: 1 };
    expect(b.shardWindows(ref)).toEqual(a.shardWindows(ref));
    expect(b.permutation(1)).toEqual(a.permutation(1));
    expect(a.permutation(1)).not.toEqual(a.permutation(2));
    expect(shufflePermutation(43, 1, 5000)).not.toEqual(shufflePermutation(42, 1, 5000));
    // Pinned: a change of algorithm must come with a new SHUFFLE_VERSION.
    expect(Array.from(shufflePermutation(42, 0, 10))).toEqual([9, 8, 5, 6, 2, 1, 3, 4, 0, 7]);
  });

  it('maps global steps to (epoch, step in epoch) and back', () => {
    const plan = new ShardPlan(settings, { trainWindows: 1000, validationWindows: 0 });
    expect(plan.position(17)).toEqual({ epoch: 2, stepInEpoch: 1 });
    expect(plan.globalStep({ epoch: 2, stepInEpoch: 1 })).toBe(17);
  });

  it('rejects settings and references that do not exist', () => {
    expect(() => new ShardPlan({ ...settings, batchSize: 0 }, { trainWindows: 10, validationWindows: 0 })).toThrow(
      'batchSize must be a positive integer, got 0',
    );
    expect(() => new ShardPlan({ ...settings, shardSize: 1.5 }, { trainWindows: 10, validationWindows: 0 })).toThrow(RangeError);
    const plan = new ShardPlan(settings, { trainWindows: 1000, validationWindows: 0 });
    expect(() => plan.shardWindows({ epoch: 0, stepInEpoch: 0, shard: 4 })).toThrow(RangeError);
    expect(() => plan.shardWindows({ epoch: 0, stepInEpoch: 8, shard: 0 })).toThrow(RangeError);
    expect(() => plan.validationShardWindows(0)).toThrow(RangeError);
  });
});
