// Column normalization, fitted on training rows only and stored with the dataset so that
// predictions can be mapped back to original units. A constant column (std 0, or max = min)
// gets a scale of 1 so that it encodes to 0 instead of dividing by zero.
import type { NormalizationMethod } from './data-spec';

export type Normalization =
  | { readonly method: 'zscore'; readonly mean: readonly number[]; readonly std: readonly number[] }
  | { readonly method: 'minmax'; readonly min: readonly number[]; readonly max: readonly number[] };

/** Streaming statistics over rows of C columns (Welford for mean and variance, float64). */
export class ColumnStatistics {
  readonly columns: number;
  count = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;

  constructor(columns: number) {
    this.columns = columns;
    this.mean = new Float64Array(columns);
    this.m2 = new Float64Array(columns);
    this.min = new Float64Array(columns).fill(Infinity);
    this.max = new Float64Array(columns).fill(-Infinity);
  }

  /** Adds one row: values[offset .. offset + columns). */
  add(values: ArrayLike<number>, offset = 0): void {
    this.count++;
    for (let c = 0; c < this.columns; c++) {
      const x = values[offset + c]!;
      const delta = x - this.mean[c]!;
      this.mean[c]! += delta / this.count;
      this.m2[c]! += delta * (x - this.mean[c]!);
      if (x < this.min[c]!) this.min[c] = x;
      if (x > this.max[c]!) this.max[c] = x;
    }
  }

  /** The fitted normalization (population standard deviation). */
  fit(method: NormalizationMethod): Normalization {
    if (this.count === 0) throw new RangeError('cannot fit a normalization on zero rows');
    if (method === 'zscore') {
      return { method, mean: Array.from(this.mean), std: Array.from(this.m2, (m2) => Math.sqrt(m2 / this.count)) };
    }
    return { method, min: Array.from(this.min), max: Array.from(this.max) };
  }
}

/** Per column: normalized = (x - shift) / scale. */
export interface AffineColumns {
  readonly shift: Float64Array;
  readonly scale: Float64Array;
}

export function affineColumns(normalization: Normalization): AffineColumns {
  if (normalization.method === 'zscore') {
    return {
      shift: Float64Array.from(normalization.mean),
      scale: Float64Array.from(normalization.std, (s) => (s > 0 ? s : 1)),
    };
  }
  return {
    shift: Float64Array.from(normalization.min),
    scale: Float64Array.from(normalization.max, (max, c) => {
      const range = max - normalization.min[c]!;
      return range > 0 ? range : 1;
    }),
  };
}

/** The normalization of a subset of columns (by index), e.g. the targets' for predictions. */
export function selectColumns(normalization: Normalization, indices: readonly number[]): Normalization {
  const pick = (values: readonly number[]): number[] => indices.map((i) => values[i]!);
  return normalization.method === 'zscore'
    ? { method: 'zscore', mean: pick(normalization.mean), std: pick(normalization.std) }
    : { method: 'minmax', min: pick(normalization.min), max: pick(normalization.max) };
}

/** Normalizes row-major [rows, C] values in original units; C = the normalization's columns. */
export function normalizeRows(values: ArrayLike<number>, normalization: Normalization): Float32Array {
  const { shift, scale } = affineColumns(normalization);
  const columns = shift.length;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % columns;
    out[i] = (values[i]! - shift[c]!) / scale[c]!;
  }
  return out;
}

/** Inverse of normalizeRows: row-major [rows, C] normalized values -> original units (float64). */
export function denormalizeRows(values: ArrayLike<number>, normalization: Normalization): Float64Array {
  const { shift, scale } = affineColumns(normalization);
  const columns = shift.length;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % columns;
    out[i] = values[i]! * scale[c]! + shift[c]!;
  }
  return out;
}
