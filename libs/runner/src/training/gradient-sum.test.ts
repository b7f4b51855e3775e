import { describe, expect, it } from 'vitest';
import { aggregateShardGradients, firstNonFinite } from './gradient-sum';

describe('aggregateShardGradients', () => {
  it('averages over windows and does not depend on the order results arrive in', () => {
    const shards = [
      { shard: 1, gradient: new Float32Array([0.1, 1e7, -3]), loss: 2, count: 2 },
      { shard: 0, gradient: new Float32Array([0.2, 1, 3]), loss: 1, count: 1 },
      { shard: 2, gradient: new Float32Array([0.3, -1e7, 6]), loss: 3, count: 3 },
    ];
    const forward = aggregateShardGradients(shards, 3);
    const reversed = aggregateShardGradients([...shards].reverse(), 3);
    expect(Buffer.from(forward.gradient.buffer)).toEqual(Buffer.from(reversed.gradient.buffer));
    expect(forward.count).toBe(6);
    expect(forward.loss).toBeCloseTo(1, 12);
    const expected = [0.6, 1, 6].map((x) => Math.fround(x / 6));
    forward.gradient.forEach((value, p) => expect(value).toBeCloseTo(expected[p]!, 6));
  });

  it("sums one shard (a reduction tree's root) from 0 as eight would: -0 becomes +0", () => {
    const { gradient } = aggregateShardGradients([{ shard: 0, gradient: new Float32Array([-0, 3, -1e-30]), loss: 1, count: 2 }], 3);
    expect(Object.is(gradient[0], 0)).toBe(true);
    expect([...gradient.slice(1)]).toEqual([1.5, Math.fround(-1e-30 * 0.5)]);
  });

  it('adds shards left to right in float64, whatever the grouping (1 to 9 shards)', () => {
    const parameters = 257;
    for (let shardCount = 1; shardCount <= 9; shardCount++) {
      const shards = Array.from({ length: shardCount }, (_, shard) => ({
        shard,
        gradient: Float32Array.from({ length: parameters }, (_, p) => Math.fround(Math.sin(p * 7.1 + shard * 13.3) * 10 ** ((p % 9) - 4))),
        loss: 1,
        count: 3,
      }));
      const expected = new Float32Array(parameters);
      for (let p = 0; p < parameters; p++) {
        let sum = 0;
        for (const { gradient } of shards) sum += gradient[p]!;
        expected[p] = sum * (1 / (3 * shardCount));
      }
      const { gradient } = aggregateShardGradients(shards, parameters);
      expect(Buffer.from(gradient.buffer).equals(Buffer.from(expected.buffer)), `${shardCount} shards`).toBe(true);
    }
  });

  it('sums many shards over several blocks of parameters exactly as one left-to-right float64 sum', () => {
    const parameters = 5000;
    const shardCount = 67;
    const shards = Array.from({ length: shardCount }, (_, shard) => ({
      shard,
      gradient: Float32Array.from({ length: parameters }, (_, p) => Math.fround(Math.cos(p * 3.7 + shard * 1.9) * 10 ** ((p % 11) - 5))),
      loss: 1,
      count: 2,
    }));
    const expected = new Float32Array(parameters);
    for (let p = 0; p < parameters; p++) {
      let sum = 0;
      for (const { gradient } of shards) sum += gradient[p]!;
      expected[p] = sum * (1 / (2 * shardCount));
    }
    const { gradient } = aggregateShardGradients(shards, parameters);
    expect(Buffer.from(gradient.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
  });

  it('rejects a gradient of the wrong size and an empty step', () => {
    expect(() => aggregateShardGradients([{ shard: 0, gradient: new Float32Array(2), loss: 0, count: 1 }], 3)).toThrow(/shard 0/);
    expect(() => aggregateShardGradients([], 3)).toThrow(RangeError);
  });
});

describe('firstNonFinite', () => {
  it('finds NaN and infinities', () => {
    expect(firstNonFinite(new Float32Array([1, 2]))).toBe(-1);
    expect(firstNonFinite(new Float32Array([1, Number.NaN]))).toBe(1);
    expect(firstNonFinite(new Float32Array([Number.NEGATIVE_INFINITY]))).toBe(0);
  });
});
