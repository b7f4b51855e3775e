// The fixed tree in which a step's shard gradients are summed under reductionVersion 2. Its
// shape depends only on the step's shard count: never on which worker computed what or how
// many workers there are, so the sums are the same bytes for any cluster. Up to FAN_IN
// shards, there is no tree: the coordinator sums them itself, exactly as reduction version 1
// (small jobs pay no extra queue hop). Beyond, every FAN_IN consecutive inputs of a level
// make a node of the next, summed by a worker from 0 in float64 in input order and stored
// as float32; a lone input at a level's end moves up unchanged (a sum of one float32 is that
// float32); levels repeat until one root remains, the one gradient the coordinator reads.

/** Inputs a node sums: one pass over memory of gradient-sum.ts. */
export const REDUCTION_FAN_IN = 8;

/** The reduction in force for new jobs; records and checkpoints without one read as 1 (a flat sum). */
export const CURRENT_REDUCTION_VERSION = 2;

/** A shard's gradient, or the sum a node wrote. */
export type ReductionInput = { readonly kind: 'shard'; readonly index: number } | { readonly kind: 'node'; readonly index: number };

export interface ReductionNode {
  /** Numbered level by level, from 0 (the task number of its reduce job). */
  readonly index: number;
  /** In the order they are added. */
  readonly inputs: readonly ReductionInput[];
  /** The node that sums this one's output; undefined at the root. */
  readonly parent: number | undefined;
}

export interface ReductionTree {
  readonly nodes: readonly ReductionNode[];
  /** What the coordinator sums: the step's shards (up to FAN_IN of them), or the root alone. */
  readonly top: readonly ReductionInput[];
  /** The node whose inputs include each shard (empty without a tree). */
  readonly shardParent: readonly number[];
}

/** The tree of a step with shardCount shards. */
export function reductionTree(shardCount: number): ReductionTree {
  if (!Number.isInteger(shardCount) || shardCount < 1) throw new RangeError(`a step needs at least one shard, got ${shardCount}`);
  let level: ReductionInput[] = Array.from({ length: shardCount }, (_, index) => ({ kind: 'shard', index }));
  if (shardCount <= REDUCTION_FAN_IN) return { nodes: [], top: level, shardParent: [] };
  const nodes: { index: number; inputs: ReductionInput[]; parent: number | undefined }[] = [];
  const shardParent: number[] = [];
  while (level.length > 1) {
    const next: ReductionInput[] = [];
    for (let first = 0; first < level.length; first += REDUCTION_FAN_IN) {
      const inputs = level.slice(first, first + REDUCTION_FAN_IN);
      if (inputs.length === 1) {
        next.push(inputs[0]!);
        continue;
      }
      const index = nodes.length;
      nodes.push({ index, inputs, parent: undefined });
      for (const input of inputs) {
        if (input.kind === 'shard') shardParent[input.index] = index;
        else nodes[input.index]!.parent = index;
      }
      next.push({ kind: 'node', index });
    }
    level = next;
  }
  return { nodes, top: level, shardParent };
}
