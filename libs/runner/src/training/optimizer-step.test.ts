import { describe, expect, it } from 'vitest';
import { createOptimizer, createRng } from '@lstm-runner/lstm-core';
import type { ShardGradient } from './gradient-sum';
import { optimizerStep } from './optimizer-step';

const P = 37;
const adam = { type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;

function randomShards(count: number, seed: number): ShardGradient[] {
  const rng = createRng(seed);
  return Array.from({ length: count }, (_, shard) => ({
    shard,
    gradient: Float32Array.from({ length: P }, () => rng.nextFloat() * 6 - 3),
    loss: rng.nextFloat() * 10,
    count: 1 + rng.nextInt(8),
  }));
}

/** The step written out the slow way: float64 sums in shard order, mean, clip, one Adam update. */
function referenceStep(params: Float32Array, shards: readonly ShardGradient[], clipNorm: number | undefined): Float32Array {
  const ordered = [...shards].sort((a, b) => a.shard - b.shard);
  const count = ordered.reduce((n, s) => n + s.count, 0);
  const mean = new Float32Array(P);
  for (let p = 0; p < P; p++) {
    let sum = 0;
    for (const shard of ordered) sum += shard.gradient[p]!;
    mean[p] = sum * (1 / count);
  }
  if (clipNorm !== undefined) {
    let squares = 0;
    for (let p = 0; p < P; p++) squares += mean[p]! * mean[p]!;
    const norm = Math.sqrt(squares);
    if (norm > clipNorm) for (let p = 0; p < P; p++) mean[p] = mean[p]! * (clipNorm / norm);
  }
  const next = params.slice();
  createOptimizer(adam, P).apply(next, mean);
  return next;
}

describe('optimizerStep', () => {
  const params = Float32Array.from({ length: P }, (_, p) => Math.sin(p));

  it.each([undefined, 0.5])('equals the step written out by hand, bit for bit (clipNorm %s)', (clipNorm) => {
    const shards = randomShards(5, 7);
    const result = optimizerStep(params, createOptimizer(adam, P), shards, clipNorm);
    expect(result.kind).toBe('applied');
    if (result.kind !== 'applied') return;
    expect(result.params).toEqual(referenceStep(params, shards, clipNorm));
    const count = shards.reduce((n, s) => n + s.count, 0);
    expect(result.count).toBe(count);
    expect(result.loss).toBe(shards.reduce((sum, s) => sum + s.loss, 0) / count);
  });

  it("applies a scheduled rate as the optimizer's own rate would", () => {
    const shards = randomShards(3, 5);
    const scheduled = optimizerStep(params, createOptimizer(adam, P), shards, 1, 0.004);
    expect(scheduled).toEqual(optimizerStep(params, createOptimizer({ ...adam, learningRate: 0.004 }, P), shards, 1));
    expect(scheduled).not.toEqual(optimizerStep(params, createOptimizer(adam, P), shards, 1));
  });

  it('gives the same bits whatever order the shards arrive in, and leaves the old weights alone', () => {
    const shards = randomShards(11, 3);
    const before = params.slice();
    const inOrder = optimizerStep(params, createOptimizer(adam, P), shards, 1);
    const shuffled = optimizerStep(params, createOptimizer(adam, P), [...shards].reverse(), 1);
    expect(inOrder).toEqual(shuffled);
    expect(params).toEqual(before);
  });

  it('rejects a non-finite loss, gradient or result, saying which', () => {
    const shards = randomShards(2, 1);
    const withLoss = [{ ...shards[0]!, loss: Number.NaN }, shards[1]!];
    expect(optimizerStep(params, createOptimizer(adam, P), withLoss, undefined)).toEqual({
      kind: 'rejected',
      reason: 'the training loss became NaN; no weights were written for it',
    });
    const badGradient = shards[1]!.gradient.slice();
    badGradient[4] = Number.POSITIVE_INFINITY;
    expect(optimizerStep(params, createOptimizer(adam, P), [shards[0]!, { ...shards[1]!, gradient: badGradient }], 1)).toEqual({
      kind: 'rejected',
      reason: 'the gradient is not finite (parameter 4); no weights were written for it',
    });
    const huge = createOptimizer({ type: 'sgd', learningRate: 1e300, momentum: 0 }, P);
    expect(optimizerStep(params, huge, shards, undefined)).toMatchObject({
      kind: 'rejected',
      reason: expect.stringMatching(/^the optimizer produced a non-finite weight \(parameter \d+\)/),
    });
  });
});
