import { describe, expect, it } from 'vitest';
import { downsample } from './downsample';

describe('downsample (largest triangle three buckets)', () => {
  it('returns short series whole', () => {
    expect(downsample([1, 2, 3], [5, 4, 3], 10)).toEqual([
      [1, 5],
      [2, 4],
      [3, 3],
    ]);
  });

  it('cuts 100,000 points to the limit, keeping the ends, the order and a lone spike', () => {
    const n = 100_000;
    const xs = Float64Array.from({ length: n }, (_, i) => i + 1);
    const ys = Float64Array.from({ length: n }, (_, i) => 2 * Math.exp(-i / 20_000) + 0.01 * Math.sin(i / 7));
    ys[61_234] = 9;
    const points = downsample(xs, ys, 1000);
    expect(points).toHaveLength(1000);
    expect(points[0]).toEqual([1, ys[0]]);
    expect(points[999]).toEqual([n, ys[n - 1]]);
    for (let i = 1; i < points.length; i++) expect(points[i]![0]).toBeGreaterThan(points[i - 1]![0]);
    expect(points).toContainEqual([61_235, 9]);
  });

  it('refuses mismatched columns and a limit below 3', () => {
    expect(() => downsample([1, 2], [1], 10)).toThrow('2 x values but 1 y values');
    expect(() => downsample([1, 2, 3, 4], [1, 2, 3, 4], 2)).toThrow('integer >= 3');
  });
});
