// The native backend through the checks every backend passes: layers and whole models against
// the reference backend, the interface's contract, gradients against tfjs autodiff and finite
// differences, the forward pass against tfjs-layers. Skips (or, with LSTM_REQUIRE_NATIVE=1,
// fails) with one line when the addon is not built.

import { BackendRegistry, BackendUnavailableError, registerTfjsBackends } from '@lstm-runner/lstm-core';
import { describe, expect, it } from 'vitest';
import { describeAgainstReference, describeBackendContract } from '../../../test-support/backend-conformance';
import { describeDirectionalDerivatives } from '../../../test-support/finite-differences';
import { describeIfAvailable } from '../../../test-support/requirements';
import {
  describeLayersForwardParity,
  describeModelAgainstAutodiff,
  describeTinyModelAgainstAutodiff,
} from '../../../test-support/tfjs-oracles';
import { nativeAvailability } from './availability';
import { detectNativeIsa, NATIVE_ISAS } from './environment';
import { NativeIsaMismatchError } from './errors/native-isa-mismatch-error';
import { NativeOptionsError } from './errors/native-options-error';
import { createNativeBackend, nativeBuildInfo, registerNativeBackend } from './native-backend';

const describeNative = describeIfAvailable('native', nativeAvailability());
const twoThreads = () => createNativeBackend({ threads: 2 });

describeNative('native backend', () => {
  describeAgainstReference('native backend (1 thread)', () => createNativeBackend({ threads: 1 }));
  describeAgainstReference('native backend (2 threads)', twoThreads);
  describeBackendContract('native backend', twoThreads);
  describeTinyModelAgainstAutodiff({ native: twoThreads });
  describeModelAgainstAutodiff('native backend', twoThreads);
  describeLayersForwardParity('native backend', twoThreads);
  describeDirectionalDerivatives('native backend', twoThreads);

  describe('set-up', () => {
    it('describes itself with oneDNN, the pinned ISA, its threads and the wait policy', async () => {
      const backend = await createNativeBackend({ threads: 2 });
      const isa = detectNativeIsa();
      expect(NATIVE_ISAS).toContain(isa);
      expect(backend.buildInfo).toEqual({
        onednnVersion: expect.stringMatching(/^\d+\.\d+\.\d+$/),
        isa,
        threads: 2,
        ompWaitPolicy: 'PASSIVE',
      });
      expect(backend.description).toBe(`native: oneDNN ${backend.buildInfo.onednnVersion} (${isa}, 2 threads, OMP_WAIT_POLICY=PASSIVE)`);
      expect(nativeBuildInfo({ threads: 1 })).toEqual({ ...backend.buildInfo, threads: 1 });
      expect(process.env['ONEDNN_MAX_CPU_ISA']).toBe(isa.toUpperCase());
    });

    it('registers as native, which auto prefers to wasm, with the threads it is loaded with', async () => {
      const registry = registerNativeBackend(registerTfjsBackends(new BackendRegistry()));
      expect((await registry.load('native')).backend.name).toBe('native');
      expect((await registry.load('auto', { threads: 2 })).backend.description).toMatch(/^native: oneDNN .*, 2 threads, /);
    });

    it('names bad options, and refuses an ISA other than the one this process pinned first', async () => {
      await expect(createNativeBackend({ threads: 0 })).rejects.toThrow(
        new NativeOptionsError('threads', 0, 'must be an integer from 1 to 1024'),
      );
      await expect(createNativeBackend({ isa: 'neon' })).rejects.toThrow(
        /native backend option isa: "neon" is not one of oneDNN's: sse41, avx, /,
      );
      const detected = detectNativeIsa();
      await createNativeBackend();
      const lower = NATIVE_ISAS[NATIVE_ISAS.indexOf(detected) - 1];
      if (lower !== undefined)
        await expect(createNativeBackend({ isa: lower })).rejects.toThrow(new NativeIsaMismatchError(lower, detected));
      const higher = NATIVE_ISAS[NATIVE_ISAS.indexOf(detected) + 1];
      if (higher !== undefined) await expect(createNativeBackend({ isa: higher })).rejects.toThrow(/is beyond this CPU/);
    });
  });
});

describe('native backend availability', () => {
  it('is a typed unavailability with a one-line reason, or a loadable backend', async () => {
    const availability = nativeAvailability();
    const loading = createNativeBackend({ threads: 1 });
    if (availability.available) {
      await expect(loading).resolves.toBeDefined();
    } else {
      const error = await loading.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as BackendUnavailableError).reason).toBe(availability.reason);
      expect((error as BackendUnavailableError).message).toBe(`compute backend 'native' is unavailable: ${availability.reason}.`);
      expect(availability.reason).not.toContain('\n');
    }
  });
});
