// Windows are index arithmetic over the encoded rows: a window is (series, i) and its rows are
// computed, never copied into a [windows x lookBack] array. Windows never cross a series
// boundary. Each series is split on its own: its first floor((1 - v) * N) rows are training
// rows, and a window is a training window iff its target row is a training row, so the
// training windows of a series are a prefix of its windows.
import type { WindowSettings } from './data-spec';
import { DataError } from './errors/data-error';

export type Split = 'train' | 'validation';

/** One series: a run of consecutive rows in the encoded row array. */
export interface SeriesRows {
  /** First row of the series in the dataset's row array. */
  readonly start: number;
  readonly rows: number;
  readonly trainRows: number;
}

/**
 * floor((1 - validation) * rows), computed so that decimal fractions behave as written
 * (in floating point (1 - 0.9) * 10 is 0.9999999999999998).
 */
export function trainingRowCount(rows: number, validation: number): number {
  return Math.floor(Math.round((1 - validation) * rows * 1e6) / 1e6);
}

/** floor((rows - lookBack - horizon) / step) + 1 windows fit in `rows` rows (0 when too few). */
export function windowCount(rows: number, window: WindowSettings): number {
  const span = window.lookBack + window.horizon;
  return rows < span ? 0 : Math.floor((rows - span) / window.step) + 1;
}

export interface WindowRows {
  /** First input row (global). The inputs are rows [first, first + lookBack). */
  readonly first: number;
  /** The target row (global). */
  readonly target: number;
}

export class WindowLayout {
  readonly window: WindowSettings;
  readonly series: readonly SeriesRows[];
  readonly trainWindows: number;
  readonly validationWindows: number;
  /** Per series: how many training windows come before it (prefix sums, length series + 1). */
  private readonly trainOffsets: Float64Array;
  private readonly validationOffsets: Float64Array;

  /**
   * Throws a DataError naming `sourceName` when no training window fits: fewer rows than
   * lookBack + horizon, or fewer training rows than that.
   */
  constructor(series: readonly SeriesRows[], window: WindowSettings, sourceName: string) {
    this.window = window;
    this.series = series;
    this.trainOffsets = new Float64Array(series.length + 1);
    this.validationOffsets = new Float64Array(series.length + 1);
    let train = 0;
    let validation = 0;
    series.forEach((s, index) => {
      const trainHere = windowCount(s.trainRows, window);
      train += trainHere;
      validation += windowCount(s.rows, window) - trainHere;
      this.trainOffsets[index + 1] = train;
      this.validationOffsets[index + 1] = validation;
    });
    this.trainWindows = train;
    this.validationWindows = validation;
    const span = window.lookBack + window.horizon;
    if (train === 0) {
      const longest = series.reduce((best, s) => (s.rows > best.rows ? s : best), { start: 0, rows: 0, trainRows: 0 });
      const what = series.length > 1 ? 'the longest series has' : 'it has';
      if (longest.rows < span) {
        throw new DataError(`${what} ${longest.rows} rows, fewer than lookBack + horizon = ${span}`, { file: sourceName });
      }
      throw new DataError(
        `no training window: ${what} ${longest.trainRows} training rows (validation takes the rest), fewer than lookBack + horizon = ${span}`,
        { file: sourceName },
      );
    }
  }

  get totalWindows(): number {
    return this.trainWindows + this.validationWindows;
  }

  windowsIn(split: Split): number {
    return split === 'train' ? this.trainWindows : this.validationWindows;
  }

  /** Rows of window `index` of `split` (0-based within the split, in series then time order). */
  rowsOf(split: Split, index: number): WindowRows {
    const offsets = split === 'train' ? this.trainOffsets : this.validationOffsets;
    if (!Number.isInteger(index) || index < 0 || index >= offsets[offsets.length - 1]!) {
      throw new RangeError(`${split} window ${index} does not exist (${offsets[offsets.length - 1]} windows)`);
    }
    // The last series whose offset is <= index; empty series share an offset with the next.
    let low = 0;
    let high = this.series.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (offsets[mid]! <= index) low = mid;
      else high = mid - 1;
    }
    const series = this.series[low]!;
    const local = index - offsets[low]! + (split === 'train' ? 0 : windowCount(series.trainRows, this.window));
    const first = series.start + local * this.window.step;
    return { first, target: first + this.window.lookBack + this.window.horizon - 1 };
  }
}
