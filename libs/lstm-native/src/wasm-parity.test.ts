// The native backend's loss and gradient against the wasm backend's on the benchmark's two
// models (char-LM: embedding 50, LSTM 128, softmax 60, T=100; time series: 10 features,
// 4 x LSTM 64, T=30) at a small batch: two independent implementations of the same math
// agree to float32 tolerance.

import { createTfjsBackend, type ComputeBackend } from '@lstm-runner/lstm-core';
import { beforeAll, expect, it } from 'vitest';
import { expectClose } from '../../../test-support/backend-conformance';
import { stepGradient, type DigestWorkloadName } from '../../../test-support/gradient-digest';
import { describeIfAvailable } from '../../../test-support/requirements';
import { nativeAvailability } from './availability';
import { createNativeBackend } from './native-backend';

const describeNative = describeIfAvailable('native', nativeAvailability());
const WINDOWS = 4;

describeNative('native backend against the wasm backend on the benchmark models', () => {
  let wasm: ComputeBackend<Float32Array>;
  let native: ComputeBackend<Float32Array>;
  beforeAll(async () => {
    wasm = await createTfjsBackend('wasm');
    native = await createNativeBackend({ threads: 2 });
  });

  it.each(['charLm', 'timeSeries'] as DigestWorkloadName[])(
    `%s, B=${WINDOWS}: loss and every gradient element to 1e-5 of the largest`,
    (name) => {
      const ours = stepGradient(native, name, WINDOWS);
      const theirs = stepGradient(wasm, name, WINDOWS);
      expect(Math.abs(ours.loss - theirs.loss) / Math.abs(theirs.loss)).toBeLessThan(1e-6);
      expectClose(ours.grads, theirs.grads, 1e-5, `${name} gradient`);
    },
  );
});
