// The dense head on tfjs-core: y = h x kernel + bias and its explicit backward.

import * as tf from '@tensorflow/tfjs-core';
import type { DenseShape } from '../backend';
import { checkLength, matMulInto, readInto, transposed } from './tensor-io';

function checkDense(shape: DenseShape, h: Float32Array, kernel: Float32Array): void {
  checkLength('dense input [B,H]', h, shape.B * shape.H);
  checkLength('dense kernel [H,K]', kernel, shape.H * shape.K);
}

/** h [B,H] x kernel [H,K] + bias [K] -> y [B,K], written into y. */
export function denseForward(shape: DenseShape, h: Float32Array, kernel: Float32Array, bias: Float32Array, y: Float32Array): void {
  const { B, H, K } = shape;
  checkDense(shape, h, kernel);
  checkLength('dense bias [K]', bias, K);
  checkLength('dense y [B,K]', y, B * K);
  tf.tidy(() => {
    readInto(tf.fused.matMul({ a: tf.tensor2d(h, [B, H]), b: tf.tensor2d(kernel, [H, K]), bias: tf.tensor1d(bias) }), y);
  });
}

/** dY [B,K] -> dH [B,H], written into dH; adds h^T x dY into dKernel [H,K] and the column sums of dY into dBias [K]. */
export function denseBackward(
  shape: DenseShape,
  h: Float32Array,
  dY: Float32Array,
  kernel: Float32Array,
  dKernel: Float32Array,
  dBias: Float32Array,
  dH: Float32Array,
): void {
  const { B, H, K } = shape;
  checkDense(shape, h, kernel);
  checkLength('dense dY [B,K]', dY, B * K);
  checkLength('dense dKernel [H,K]', dKernel, H * K);
  checkLength('dense dBias [K]', dBias, K);
  checkLength('dense dH [B,H]', dH, B * H);
  for (let k = 0; k < K; k++) {
    let sum = 0;
    for (let b = 0; b < B; b++) sum += dY[b * K + k]!;
    dBias[k] = dBias[k]! + sum;
  }
  tf.tidy(() => {
    const kernelProduct = matMulInto(transposed(h, B, H), H, B, dY, K, new Float32Array(H * K));
    for (let i = 0; i < kernelProduct.length; i++) dKernel[i] = dKernel[i]! + kernelProduct[i]!;
    matMulInto(dY, B, K, transposed(kernel, H, K), H, dH);
  });
}
