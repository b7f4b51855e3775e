import { describe, expect, it } from 'vitest';
import { DataError } from './errors/data-error';
import { WindowLayout, trainingRowCount, windowCount, type SeriesRows } from './windows';

const window = (lookBack: number, step = 1, horizon = 1) => ({ lookBack, step, horizon });

describe('windowCount', () => {
  it('is floor((N - lookBack - horizon) / step) + 1, or 0 when the rows are too few', () => {
    expect(windowCount(10, window(3))).toBe(7);
    expect(windowCount(10, window(3, 2))).toBe(4);
    expect(windowCount(10, window(3, 3, 2))).toBe(2);
    expect(windowCount(4, window(3))).toBe(1);
    expect(windowCount(3, window(3))).toBe(0);
  });
});

describe('trainingRowCount', () => {
  it('is floor((1 - v) * N) with decimal fractions taken as written', () => {
    expect(trainingRowCount(10, 0.9)).toBe(1);
    expect(trainingRowCount(10, 0.7)).toBe(3);
    expect(trainingRowCount(5479, 0.1)).toBe(4931);
    expect(trainingRowCount(7, 0)).toBe(7);
    expect(trainingRowCount(7, 0.5)).toBe(3);
  });
});

/** Every window of every series, by brute force: (first row, target row, split). */
function bruteForce(series: readonly SeriesRows[], w: ReturnType<typeof window>) {
  const train: [number, number][] = [];
  const validation: [number, number][] = [];
  for (const s of series) {
    for (let first = s.start; first + w.lookBack + w.horizon - 1 < s.start + s.rows; first += w.step) {
      const target = first + w.lookBack + w.horizon - 1;
      (target < s.start + s.trainRows ? train : validation).push([first, target]);
    }
  }
  return { train, validation };
}

describe('WindowLayout', () => {
  const series: SeriesRows[] = [
    { start: 0, rows: 20, trainRows: 18 },
    { start: 20, rows: 3, trainRows: 2 }, // too short for any window
    { start: 23, rows: 15, trainRows: 13 },
  ];

  it.each([[window(4)], [window(4, 3)], [window(2, 2, 3)], [window(1, 1, 1)]])(
    'maps window indices to rows like a brute-force enumeration (%j)',
    (w) => {
      const layout = new WindowLayout(series, w, 'x.csv');
      const expected = bruteForce(series, w);
      expect(layout.trainWindows).toBe(expected.train.length);
      expect(layout.validationWindows).toBe(expected.validation.length);
      expect(layout.totalWindows).toBe(series.reduce((sum, s) => sum + windowCount(s.rows, w), 0));
      expected.train.forEach(([first, target], i) => expect(layout.rowsOf('train', i)).toEqual({ first, target }));
      expected.validation.forEach(([first, target], i) => expect(layout.rowsOf('validation', i)).toEqual({ first, target }));
    },
  );

  it('rejects window indices out of range', () => {
    const layout = new WindowLayout(series, window(4), 'x.csv');
    expect(() => layout.rowsOf('train', layout.trainWindows)).toThrow(RangeError);
    expect(() => layout.rowsOf('validation', -1)).toThrow(RangeError);
  });

  it('is a DataError when there are fewer rows than lookBack + horizon', () => {
    expect(() => new WindowLayout([{ start: 0, rows: 10, trainRows: 9 }], window(8, 1, 3), 'x.csv')).toThrow(
      new DataError('it has 10 rows, fewer than lookBack + horizon = 11', { file: 'x.csv' }),
    );
    expect(() => new WindowLayout(series, window(30), 'x.csv')).toThrow(
      /^x\.csv: the longest series has 20 rows, fewer than lookBack \+ horizon = 31$/,
    );
  });

  it('is a DataError when the validation fraction leaves no training window', () => {
    expect(() => new WindowLayout([{ start: 0, rows: 10, trainRows: 3 }], window(3), 'x.csv')).toThrow(
      /^x\.csv: no training window: it has 3 training rows \(validation takes the rest\), fewer than lookBack \+ horizon = 4$/,
    );
  });
});
