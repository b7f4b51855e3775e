// Gradient clipping by global norm, as Keras's `global_clipnorm` / tf.clip_by_global_norm.

import type { FloatArray } from './backend';

/**
 * grads [n]: returns the L2 norm before clipping and, when it exceeds maxNorm, scales grads
 * in place to norm maxNorm. A non-finite norm is returned untouched (scaling would only
 * turn it into NaN everywhere): the caller decides what a diverged step means.
 */
export function clipByGlobalNorm(grads: FloatArray, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new RangeError(`clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  let sumSquares = 0;
  for (let k = 0; k < grads.length; k++) sumSquares += grads[k]! * grads[k]!;
  const norm = Math.sqrt(sumSquares);
  if (Number.isFinite(norm) && norm > maxNorm) {
    const scale = maxNorm / norm;
    for (let k = 0; k < grads.length; k++) grads[k] = grads[k]! * scale;
  }
  return norm;
}
