// Helpers shared by this folder's tests.

import { expect } from 'vitest';
import { createRng } from '../rng';

/** n normal draws times scale, seeded. */
export function randomArray(seed: number, n: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => scale * rng.nextNormal());
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]!));
  return max;
}

/** Every element within tolerance times the largest magnitude of `expected` (elements near
 * zero make a per-element relative error meaningless). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  const scale = Math.max(maxAbs(expected), 1e-30);
  let worst = 0;
  let worstAt = -1;
  for (let i = 0; i < expected.length; i++) {
    const error = Math.abs(actual[i]! - expected[i]!) / scale;
    if (!(error <= worst)) {
      worst = error;
      worstAt = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${worstAt} (scale ${scale})`).toBeLessThanOrEqual(tolerance);
}
