// Aggregation of shard gradients. Shards are summed in shard order into a float64
// accumulator, so the result depends only on the shard plan, never on which worker
// finished first or how many workers there were. The same sum makes the nodes of a
// reduction tree (reduction-tree.ts) on the workers.

export interface ShardGradient {
  readonly shard: number;
  /** Summed (not averaged) gradient of the shard's windows, in the parameter layout. */
  readonly gradient: Float32Array;
  readonly loss: number;
  readonly count: number;
}

export interface AggregatedGradient {
  /** Mean gradient over every window of the step. */
  readonly gradient: Float32Array;
  /** Mean loss per window. */
  readonly loss: number;
  readonly count: number;
}

/** P = parameter count. Shards of one step, any order in -> the mean gradient [P]. */
export function aggregateShardGradients(shards: readonly ShardGradient[], parameterCount: number): AggregatedGradient {
  if (shards.length === 0) throw new RangeError('cannot aggregate a step without shards');
  const ordered = [...shards].sort((a, b) => a.shard - b.shard);
  let loss = 0;
  let count = 0;
  for (const shard of ordered) {
    if (shard.gradient.length !== parameterCount) {
      throw new RangeError(`shard ${shard.shard}: gradient has ${shard.gradient.length} values, the model has ${parameterCount}`);
    }
    loss += shard.loss;
    count += shard.count;
  }
  const mean = new Float32Array(parameterCount);
  sumGradients(
    ordered.map((shard) => shard.gradient),
    mean,
    1 / count,
  );
  return { gradient: mean, loss: loss / count, count };
}

/** Shards added in one pass over memory, in one expression (V8 keeps the sum in a register). */
const GROUP = 8;
type Group = [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];

/**
 * Parameters summed per pass over the shards: a float64 accumulator of this many values (16
 * KiB) stays in the L1 cache while every group of shards is added into it, so memory holds
 * each gradient read once and never the accumulator (a whole-model accumulator was read and
 * written again for every 8 shards: 8 extra passes over 40 MB for 64 shards of 5 M).
 */
const BLOCK = 2048;

/**
 * out [P] = (sum over shards, in shard order, of gradients[s] [P]) * scale, where every
 * gradient has P values, summed in
 * float64 from 0, left to right. Fewer than eight shards (the usual step) take one pass,
 * shard after shard for each parameter; eight take one pass in one expression; more go
 * through a float64 accumulator, eight at a time, one block of parameters after the other
 * (the order of additions of each parameter is the same as without blocks). A missing member
 * of a group of the accumulator is an array of zeros: adding +0 leaves every sum as it was.
 */
export function sumGradients(gradients: readonly Float32Array[], out: Float32Array, scale: number): void {
  const n = out.length;
  const m = gradients.length;
  if (m < GROUP) {
    // No arrays of zeros to make and read (a fresh array of P zeros cost more than the sum).
    for (let p = 0; p < n; p++) {
      let sum = 0;
      for (let k = 0; k < m; k++) sum += gradients[k]![p]!;
      out[p] = sum * scale;
    }
    return;
  }
  let zeros: Float32Array | undefined;
  const groupOf = (first: number): Group =>
    Array.from({ length: GROUP }, (_, k) => gradients[first + k] ?? (zeros ??= new Float32Array(n))) as Group;
  if (m === GROUP) {
    const [g0, g1, g2, g3, g4, g5, g6, g7] = groupOf(0);
    for (let p = 0; p < n; p++) out[p] = (0 + g0[p]! + g1[p]! + g2[p]! + g3[p]! + g4[p]! + g5[p]! + g6[p]! + g7[p]!) * scale;
    return;
  }
  const groups: Group[] = [];
  for (let first = 0; first < gradients.length; first += GROUP) groups.push(groupOf(first));
  const sum = new Float64Array(BLOCK);
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    sum.fill(0);
    for (const [g0, g1, g2, g3, g4, g5, g6, g7] of groups) {
      for (let p = start, i = 0; p < end; p++, i++)
        sum[i] = sum[i]! + g0[p]! + g1[p]! + g2[p]! + g3[p]! + g4[p]! + g5[p]! + g6[p]! + g7[p]!;
    }
    for (let p = start, i = 0; p < end; p++, i++) out[p] = sum[i]! * scale;
  }
}

/** Index of the first value that is NaN or infinite, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) return i;
  }
  return -1;
}
