import { describe, expect, it } from 'vitest';
import { ColumnStatistics, affineColumns, denormalizeRows, normalizeRows, selectColumns } from './normalization';

const rows = [
  [1, 10, 5],
  [2, 20, 5],
  [3, 60, 5],
  [6, 30, 5],
];

function fitted(method: 'zscore' | 'minmax') {
  const statistics = new ColumnStatistics(3);
  for (const row of rows) statistics.add(row);
  return statistics.fit(method);
}

describe('normalization', () => {
  it('fits z-score with the population standard deviation', () => {
    const z = fitted('zscore');
    if (z.method !== 'zscore') throw new Error('unreachable');
    expect(z.mean).toEqual([3, 30, 5]);
    expect(z.std[0]).toBeCloseTo(Math.sqrt((4 + 1 + 0 + 9) / 4), 12);
    expect(z.std[1]).toBeCloseTo(Math.sqrt((400 + 100 + 900 + 0) / 4), 12);
    expect(z.std[2]).toBe(0);
  });

  it('fits min-max', () => {
    expect(fitted('minmax')).toEqual({ method: 'minmax', min: [1, 10, 5], max: [6, 60, 5] });
  });

  it.each([['zscore' as const], ['minmax' as const]])('%s round-trips, and maps a constant column to 0', (method) => {
    const n = fitted(method);
    const flat = rows.flat();
    const encoded = normalizeRows(flat, n);
    expect(Array.from({ length: 4 }, (_, r) => encoded[r * 3 + 2])).toEqual([0, 0, 0, 0]);
    const decoded = denormalizeRows(encoded, n);
    decoded.forEach((value, i) => expect(value).toBeCloseTo(flat[i]!, 5));
    if (method === 'minmax') {
      expect(encoded[0]).toBe(0);
      expect(encoded[3 * 3 + 0]).toBe(1);
    }
  });

  it('selects columns', () => {
    const n = fitted('minmax');
    expect(selectColumns(n, [1])).toEqual({ method: 'minmax', min: [10], max: [60] });
    expect(affineColumns(selectColumns(n, [2])).scale[0]).toBe(1);
  });
});
