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
 * out [P] = (sum over shards, in shard order, of gradients[s] [P]) * scale. Each parameter's
 * sum runs in a float64 register over the shards; aggregation is memory-bound and this
 * reads every gradient once and writes the result once.
 */
function sumShards(gradients: readonly Float32Array[], out: Float32Array, scale: number): void {
  const shards = gradients.length;
  for (let p = 0; p < out.length; p++) {
    let sum = 0;
    for (let s = 0; s < shards; s++) sum += gradients[s]![p]!;
    out[p] = sum * scale;
  }
}

/** Index of the first value that is NaN or infinite, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) return i;
  }
  return -1;
}
