import { describe, expect, it } from 'vitest';
import { REDUCTION_FAN_IN, reductionTree, type ReductionInput } from './reduction-tree';

const shard = (index: number): ReductionInput => ({ kind: 'shard', index });
const node = (index: number): ReductionInput => ({ kind: 'node', index });

/** The shards under an input, left to right. */
function leaves(tree: ReturnType<typeof reductionTree>, input: ReductionInput): number[] {
  return input.kind === 'shard' ? [input.index] : tree.nodes[input.index]!.inputs.flatMap((child) => leaves(tree, child));
}

describe('reductionTree', () => {
  it('has no nodes up to 8 shards: the coordinator sums them as reduction version 1 does', () => {
    for (let shards = 1; shards <= REDUCTION_FAN_IN; shards++) {
      expect(reductionTree(shards)).toEqual({ nodes: [], top: Array.from({ length: shards }, (_, i) => shard(i)), shardParent: [] });
    }
  });

  it('sums 64 shards in 8 nodes of 8 consecutive shards, then one root', () => {
    const tree = reductionTree(64);
    expect(tree.nodes).toHaveLength(9);
    for (let n = 0; n < 8; n++) {
      expect(tree.nodes[n]).toEqual({ index: n, inputs: Array.from({ length: 8 }, (_, i) => shard(8 * n + i)), parent: 8 });
    }
    expect(tree.nodes[8]).toEqual({ index: 8, inputs: Array.from({ length: 8 }, (_, i) => node(i)), parent: undefined });
    expect(tree.top).toEqual([node(8)]);
    expect(tree.shardParent).toEqual(Array.from({ length: 64 }, (_, i) => Math.floor(i / 8)));
  });

  it('moves a lone input up a level unchanged, and ends in one root over every shard in order', () => {
    const nine = reductionTree(9);
    expect(nine.nodes).toEqual([
      { index: 0, inputs: Array.from({ length: 8 }, (_, i) => shard(i)), parent: 1 },
      { index: 1, inputs: [node(0), shard(8)], parent: undefined },
    ]);
    expect(nine.shardParent[8]).toBe(1);
    for (const shards of [9, 17, 64, 65, 100, 513, 1000]) {
      const tree = reductionTree(shards);
      expect(tree.top).toHaveLength(1);
      expect(leaves(tree, tree.top[0]!)).toEqual(Array.from({ length: shards }, (_, i) => i));
      for (const each of tree.nodes) {
        expect(each.inputs.length).toBeGreaterThanOrEqual(2);
        expect(each.inputs.length).toBeLessThanOrEqual(REDUCTION_FAN_IN);
        // Every input names this node as its parent.
        for (const input of each.inputs)
          expect(input.kind === 'shard' ? tree.shardParent[input.index] : tree.nodes[input.index]!.parent).toBe(each.index);
      }
    }
  });

  it('refuses a step without shards', () => {
    expect(() => reductionTree(0)).toThrow(RangeError);
  });
});
