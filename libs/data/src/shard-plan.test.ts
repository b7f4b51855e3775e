import { describe, expect, it } from 'vitest';
import { DEFAULT_GROUP_BLOCKS, SHUFFLE_VERSION, ShardPlan, shuffleForNewJob, shufflePermutation, type ShuffleSettings } from './shard-plan';

const settings = { seed: 42, epochs: 3, batchSize: 128, shardSize: 32 };

/** Every window of every epoch's order, shard by shard, checked against the batches. */
function epochOrder(plan: ShardPlan, epoch: number): number[] {
  const order: number[] = [];
  for (let step = 0; step < plan.stepsPerEpoch; step++) {
    const batch: number[] = [];
    for (let shard = 0; shard < plan.shardsInStep(step); shard++) batch.push(...plan.shardWindows({ epoch, stepInEpoch: step, shard }));
    expect(batch).toEqual(Array.from(plan.batchWindows({ epoch, stepInEpoch: step })));
    order.push(...batch);
  }
  return order;
}

const isBijection = (order: readonly number[], windows: number): boolean =>
  order.length === windows && new Set(order).size === windows && order.every((w) => Number.isInteger(w) && w >= 0 && w < windows);

describe('ShardPlan', () => {
  it('gives new jobs shuffle version 2 in blocks of about a segment; plans without a shuffle use version 1', () => {
    expect(SHUFFLE_VERSION).toBe(2);
    expect(shuffleForNewJob(1 << 24, { lookBack: 100, step: 3, horizon: 1 })).toEqual({
      version: 2,
      blockWindows: Math.floor((1 << 24) / 3),
      groupBlocks: DEFAULT_GROUP_BLOCKS,
    });
    expect(new ShardPlan(settings, { trainWindows: 10, validationWindows: 0 }).shuffle).toEqual({ version: 1 });
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

  it.each<[string, ShuffleSettings]>([
    ['version 1', { version: 1 }],
    ['version 2, one block', { version: 2, blockWindows: 1 << 20, groupBlocks: 8 }],
    ['version 2, short last block', { version: 2, blockWindows: 100, groupBlocks: 3 }],
    ['version 2, blocks of one window', { version: 2, blockWindows: 1, groupBlocks: 5 }],
  ])('covers every training window exactly once per epoch, shard by shard (%s)', (_name, shuffle) => {
    for (const windows of [1, 2, 3, 7, 100, 2345]) {
      const plan = new ShardPlan({ ...settings, batchSize: 100, shardSize: 30, shuffle }, { trainWindows: windows, validationWindows: 0 });
      for (let epoch = 0; epoch < 2; epoch++) expect(isBijection(epochOrder(plan, epoch), windows)).toBe(true);
    }
  });

  it('version 2: a batch draws from the blocks of one group, or of two where groups meet', () => {
    const shuffle: ShuffleSettings = { version: 2, blockWindows: 50, groupBlocks: 2 };
    const plan = new ShardPlan({ ...settings, batchSize: 20, shardSize: 10, shuffle }, { trainWindows: 1234, validationWindows: 0 });
    const order = epochOrder(plan, 1);
    for (let step = 0; step < plan.stepsPerEpoch; step++) {
      const blocks = new Set(order.slice(step * 20, step * 20 + 20).map((w) => Math.floor(w / 50)));
      expect(blocks.size).toBeLessThanOrEqual(4);
    }
    // Each group's windows are its blocks' windows, whole.
    const firstGroup = new Set(order.slice(0, 100).map((w) => Math.floor(w / 50)));
    expect(firstGroup.size).toBe(2);
  });

  it('version 2 is pinned and depends on the seed and the epoch', () => {
    const shuffle: ShuffleSettings = { version: 2, blockWindows: 4, groupBlocks: 2 };
    const plan = (seed: number) =>
      new ShardPlan({ ...settings, seed, batchSize: 10, shardSize: 10, shuffle }, { trainWindows: 10, validationWindows: 0 });
    expect(epochOrder(plan(42), 0)).toEqual(epochOrder(plan(42), 0));
    expect(epochOrder(plan(42), 0)).not.toEqual(epochOrder(plan(42), 1));
    expect(epochOrder(plan(43), 0)).not.toEqual(epochOrder(plan(42), 0));
    // A change of algorithm must come with a new SHUFFLE_VERSION.
    expect(epochOrder(plan(42), 0)).toEqual([8, 9, 2, 1, 3, 0, 4, 7, 6, 5]);
    expect(() => plan(42).permutation(0)).toThrow('shuffle version 2 has no permutation array');
  });

  it('is a pure function of the seed and epoch: the same seed gives the same plan, another epoch or seed another', () => {
    const a = new ShardPlan(settings, { trainWindows: 5000, validationWindows: 0 });
    const b = new ShardPlan(settings, { trainWindows: 5000, validationWindows: 0 });
    const ref = { epoch: 2, stepInEpoch: 5, shard: 1 };
    expect(b.shardWindows(ref)).toEqual(a.shardWindows(ref));
    expect(b.permutation(1)).toEqual(a.permutation(1));
    expect(a.permutation(1)).not.toEqual(a.permutation(2));
    expect(shufflePermutation(43, 1, 5000)).not.toEqual(shufflePermutation(42, 1, 5000));
    // Pinned: running jobs of version 1 keep these orders; a change of algorithm must come with a new SHUFFLE_VERSION.
    expect(Array.from(shufflePermutation(42, 0, 10))).toEqual([9, 8, 5, 6, 2, 1, 3, 4, 0, 7]);
    expect(Array.from(a.shardWindows({ epoch: 0, stepInEpoch: 0, shard: 0 }).slice(0, 6))).toEqual([2482, 2039, 1974, 3001, 3806, 2677]);
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
    const blocks = { version: 2, blockWindows: 0, groupBlocks: 1 } as const;
    expect(() => new ShardPlan({ ...settings, shuffle: blocks }, { trainWindows: 10, validationWindows: 0 })).toThrow(
      'blockWindows must be a positive integer, got 0',
    );
  });
});
