import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed } from './rng';

describe('createRng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const streamA = Array.from({ length: 8 }, () => a.nextUint32());
    const streamB = Array.from({ length: 8 }, () => b.nextUint32());
    const streamC = Array.from({ length: 8 }, () => c.nextUint32());
    expect(streamA).toEqual(streamB);
    expect(streamA).not.toEqual(streamC);
  });

  it('draws floats in [0, 1) with the mean and variance of a uniform', () => {
    const rng = createRng(7);
    let sum = 0;
    let sumSquares = 0;
    let min = 1;
    let max = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = rng.nextFloat();
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      sumSquares += x * x;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sumSquares / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
  });

  it('draws every integer below the bound about equally often', () => {
    const rng = createRng(1);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.nextInt(7)]! += 1;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    expect(() => rng.nextInt(0)).toThrow(RangeError);
  });

  it('draws normals with mean 0 and variance 1', () => {
    const rng = createRng(3);
    let sum = 0;
    let sumSquares = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const x = rng.nextNormal();
      sum += x;
      sumSquares += x * x;
    }
    expect(sum / n).toBeCloseTo(0, 1);
    expect(sumSquares / n).toBeCloseTo(1, 1);
  });
});

describe('deriveSeed', () => {
  it('depends on every part and on their order', () => {
    expect(deriveSeed(42, 0)).toBe(deriveSeed(42, 0));
    expect(deriveSeed(42, 0)).not.toBe(deriveSeed(42, 1));
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 1));
    expect(deriveSeed(5)).not.toBe(deriveSeed(5 + 2 ** 32));
  });
});
