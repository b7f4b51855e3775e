// Aggregation of shard gradients. Shards are summed in shard order into a float64
// accumulator, so the result depends only on the shard plan, never on which worker
// finished first or how many workers there were.

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
  sumShards(
    ordered.map((shard) => shard.gradient),
    mean,
    1 / count,
  );
  return { gradient: mean, loss: loss / count, count };
}

/**
 * out [P] = (sum over shards, in shard order, of gradients[s] [P]) * scale, summed in
 * float64. Four shards per pass over memory, written out as one expression: the loop over
 * shards inside the loop over parameters is twice as slow in V8. The order of additions is
 * the plain sequential one, so the result does not depend on how shards are grouped.
 */
function sumShards(gradients: readonly Float32Array[], out: Float32Array, scale: number): void {
  const sum = new Float64Array(out.length);
  for (let first = 0; first < gradients.length; first += 4) {
    const group = gradients.slice(first, first + 4);
    addGroup(sum, group);
  }
  for (let p = 0; p < out.length; p++) out[p] = sum[p]! * scale;
}

/** sum [P] += g0 [P] + g1 [P] + ... (up to four, added left to right) */
function addGroup(sum: Float64Array, group: readonly Float32Array[]): void {
  const [g0, g1, g2, g3] = group;
  const n = sum.length;
  if (g3 !== undefined) for (let p = 0; p < n; p++) sum[p] = sum[p]! + g0![p]! + g1![p]! + g2![p]! + g3[p]!;
  else if (g2 !== undefined) for (let p = 0; p < n; p++) sum[p] = sum[p]! + g0![p]! + g1![p]! + g2[p]!;
  else if (g1 !== undefined) for (let p = 0; p < n; p++) sum[p] = sum[p]! + g0![p]! + g1[p]!;
  else for (let p = 0; p < n; p++) sum[p] = sum[p]! + g0![p]!;
}

/** Index of the first value that is NaN or infinite, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) return i;
  }
  return -1;
}
