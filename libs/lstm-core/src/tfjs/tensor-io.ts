// Moving Float32Arrays in and out of tfjs: every helper uploads, computes, reads the result
// back into JS and disposes what it made.

import * as tf from '@tensorflow/tfjs-core';

export function checkLength(what: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) throw new RangeError(`${what}: expected ${expected} values, got ${array.length}`);
}

function readFloat32(t: tf.Tensor): Float32Array {
  const values = t.dataSync();
  if (!(values instanceof Float32Array)) throw new TypeError(`expected float32 tensor data, got ${t.dtype}`);
  return values;
}

/** What readInto needs of @tensorflow/tfjs-backend-wasm's BackendWasm (public members there). */
interface WasmHeapBackend {
  readonly wasm: { readonly HEAPU8: Uint8Array };
  readonly dataIdMap: { get(dataId: object): { readonly memoryOffset: number; readonly dtype: string } | undefined };
}

function isWasmHeapBackend(backend: object): backend is WasmHeapBackend {
  return 'wasm' in backend && 'dataIdMap' in backend;
}

/**
 * Copies a float32 tensor's values into `into`. On wasm straight out of the wasm heap:
 * dataSync would allocate a fresh array per read, which in a timestep loop costs several
 * times the copy itself and feeds the garbage collector.
 */
export function readInto(t: tf.Tensor, into: Float32Array): void {
  checkLength('tensor read', into, t.size);
  if (t.dtype !== 'float32') throw new TypeError(`expected float32 tensor data, got ${t.dtype}`);
  const backend = tf.backend();
  if (isWasmHeapBackend(backend)) {
    const data = backend.dataIdMap.get(t.dataId);
    if (data !== undefined) {
      into.set(new Float32Array(backend.wasm.HEAPU8.buffer, data.memoryOffset, t.size));
      return;
    }
  }
  into.set(readFloat32(t));
}

/** a [rows, cols] -> a^T [cols, rows]. */
export function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const rowStart = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[rowStart + c]!;
  }
  return out;
}

/** a [M, K] x b [K, N] -> into [M, N], which it returns. */
export function matMulInto(a: Float32Array, M: number, K: number, b: Float32Array, N: number, into: Float32Array): Float32Array {
  const left = tf.tensor2d(a, [M, K]);
  const right = tf.tensor2d(b, [K, N]);
  const product = tf.matMul(left, right);
  readInto(product, into);
  tf.dispose([left, right, product]);
  return into;
}
